"""When each submission was handed in, from a record the student cannot write: change times in nbgrader's exchange.

``nbgrader submit`` copies the notebooks into the course's ``inbound/`` folder of the exchange, in a
folder of the student's own (``<student>+<assignment>+<time>+<random>``), and writes ``timestamp.txt``
and ``submission_secret.txt`` beside them; ``collect`` copies the newest such folder to
``submitted/``. The student owns that folder until collect, so its name and ``timestamp.txt`` say
whatever they like (nbgrader's gradebook takes its time from ``timestamp.txt``). What they cannot
set is a change time (``st_ctime``): the kernel sets it to the moment of every change, a rewritten
``timestamp.txt`` and a renamed folder included, and nobody but root can set it back. So a
submission's time here is the latest change time in the exchange's folders that hold it: those of
that student and assignment whose ``submission_secret.txt`` (a random token ``submit`` writes anew
each time) is the collected copy's.
"""

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from autograder.boundary.notebook import read_submitted_file
from autograder.reports.class_record import SubmissionTime

SECRET, TIMESTAMP = "submission_secret.txt", "timestamp.txt"
# The most entries of one student's exchange folders read for their times: a submission is a few files.
MAX_ENTRIES = 10_000
MAX_CLAIM_CHARS = 64  # of timestamp.txt, as reports show it


def exchange_from_config() -> Path | None:
    """The course's folder in nbgrader's exchange (``Exchange.root/course_id``), from nbgrader's configuration of
    the current folder, as ``nbgrader collect`` finds it; None where no course id is configured."""
    from nbgrader.apps.baseapp import NbGrader

    app = NbGrader()
    app.load_config_file()
    course_id = app.config.CourseDirectory.get("course_id", "")
    root = app.config.Exchange.get("root", "/srv/nbgrader/exchange")  # nbgrader's default
    return Path(root) / course_id if course_id else None


def parse_time(text: str) -> datetime | None:
    """A time as nbgrader writes it ("2026-11-27 12:00:00.123456 UTC", or ISO 8601), in UTC; None if it is not one."""
    text = text.strip().removesuffix(" UTC").removesuffix("Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def claimed_time(submission: Path) -> tuple[datetime | None, str]:
    """What the submission's own timestamp.txt says: the time, and the text as written (cut short)."""
    content = read_submitted_file(submission / TIMESTAMP)
    if content is None:
        return None, ""
    text = content.decode(errors="replace").strip()
    return parse_time(text), text[:MAX_CLAIM_CHARS]


def exchange_folders(inbound: Path, assignment: str) -> dict[str, list[Path]]:
    """Student -> their folders of ``assignment`` in ``inbound``, parsed as ``collect`` parses the names."""
    found: dict[str, list[Path]] = {}
    with os.scandir(inbound) as entries:
        for entry in entries:
            parts = entry.name.rsplit("+", 3)
            if len(parts) == 4 and parts[1] == assignment and entry.is_dir(follow_symlinks=False):
                found.setdefault(parts[0], []).append(Path(entry.path))
    return found


def last_change(folder: Path) -> float | None:
    """The latest change time of ``folder`` and everything in it (links not followed); None past ``MAX_ENTRIES``."""
    latest, waiting, seen = os.lstat(folder).st_ctime, [folder], 0
    while waiting:
        with os.scandir(waiting.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_ENTRIES:
                    return None
                info = entry.stat(follow_symlinks=False)
                latest = max(latest, info.st_ctime)
                if stat.S_ISDIR(info.st_mode):
                    waiting.append(Path(entry.path))
    return latest


def recorded_time(candidates: list[Path], secret: bytes | None) -> tuple[datetime | None, str]:
    """The latest change in the ``candidates`` that hold the submission whose secret is ``secret``; or None, and why."""
    if not secret:
        return None, f"the collected submission has no {SECRET} to find it by in the exchange"
    holding = [folder for folder in candidates if read_submitted_file(folder / SECRET) == secret]
    if not holding:
        return None, "no folder of this student's in the exchange holds the collected submission"
    try:
        changes = [last_change(folder) for folder in holding]
    except OSError as error:
        return None, f"the exchange's folders of this student cannot be read ({error.strerror})"
    if None in changes:
        return None, f"the exchange's folders of this student hold more than {MAX_ENTRIES} files"
    return datetime.fromtimestamp(max(changes), timezone.utc), ""


def submission_times(submitted: Path, students: list[str], assignment: str,
                     exchange: Path | None, no_exchange: str) -> dict[str, SubmissionTime]:
    """Each student's submission time (see the module's docstring), from the course's folder ``exchange`` in
    nbgrader's exchange; where it is None, or has no ``inbound/``, every time is unrecorded, ``no_exchange`` saying
    why."""
    inbound = exchange / "inbound" if exchange is not None else None
    folders, why_none = {}, no_exchange
    if inbound is not None:
        try:
            folders, why_none = exchange_folders(inbound, assignment), ""
        except OSError as error:
            why_none = f"the exchange's {inbound} cannot be read ({error.strerror})"
    times = {}
    for student in students:
        submission = submitted / student / assignment
        claimed, text = claimed_time(submission)
        if why_none:
            times[student] = SubmissionTime(None, claimed, text, why_none)
            continue
        recorded, why = recorded_time(folders.get(student, []), read_submitted_file(submission / SECRET))
        times[student] = SubmissionTime(recorded, claimed, text, why)
    return times
