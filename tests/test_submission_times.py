"""Submission times from a record the student cannot write: change times in nbgrader's exchange, not timestamp.txt.

Fast: each test lays out a course's exchange folder as ``nbgrader submit`` does (``inbound/<student>+<assignment>
+<time>+<random>/`` with the notebooks, ``timestamp.txt`` and ``submission_secret.txt``) and the collected copy as
``nbgrader collect`` does, in a folder only its owner can enter. tests/test_instructor_loop.py does the same with
nbgrader's real commands.
"""

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID
from autograder.instructor.submission_times import parse_time, submission_times
from autograder.reports.class_record import AGREEMENT_SECONDS

FORGED = "2000-01-01 00:00:00.000000 UTC"


def nbgrader_time(moment: float) -> str:
    """A time as nbgrader's submit writes it."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder (0700) whose exchange holds alice's submission and whose submitted/ holds its copy."""
    tmp_path.chmod(0o700)
    now = time.time()
    inbound = tmp_path / "exchange" / "nn101" / "inbound" / f"alice+{ASSIGNMENT_ID}+{nbgrader_time(now)}+Xy12"
    inbound.mkdir(parents=True)
    (inbound / "01_linear_regression.ipynb").write_text("{}")
    (inbound / "timestamp.txt").write_text(nbgrader_time(now))
    (inbound / "submission_secret.txt").write_text("a" * 128)
    return tmp_path


def collect(course: Path) -> None:
    """Copy alice's exchange folder to submitted/, as nbgrader collect does."""
    source = next((course / "exchange" / "nn101" / "inbound").iterdir())
    shutil.copytree(source, course / "submitted" / "alice" / ASSIGNMENT_ID)


def times(course: Path, exchange: Path | None = None) -> dict:
    """The submission times of alice, from the course's exchange folder (or ``exchange``)."""
    folder = exchange if exchange is not None else course / "exchange" / "nn101"
    return submission_times(course / "submitted", ["alice"], ASSIGNMENT_ID, folder, "")


def test_an_untouched_submission_has_its_time_and_agrees_with_its_timestamp(course: Path) -> None:
    """As submitted, the recorded time is within a few seconds of timestamp.txt's, and nothing is flagged."""
    collect(course)
    alice = times(course)["alice"]
    assert alice.recorded is not None and not alice.disagrees
    assert abs((alice.recorded - alice.claimed).total_seconds()) < AGREEMENT_SECONDS


def test_a_rewritten_timestamp_is_not_the_recorded_time_and_is_flagged(course: Path) -> None:
    """alice rewrites timestamp.txt in the exchange to 2000-01-01 before collect: the recorded time is when she did,
    and her timestamp.txt is flagged as disagreeing."""
    rewritten = time.time()
    folder = next((course / "exchange" / "nn101" / "inbound").iterdir())
    (folder / "timestamp.txt").write_text(FORGED)
    collect(course)
    alice = times(course)["alice"]
    assert alice.recorded.timestamp() >= rewritten - 1 and alice.claimed == parse_time(FORGED) and alice.disagrees


def test_a_folder_renamed_to_an_earlier_time_is_recorded_when_renamed(course: Path) -> None:
    """Renaming the exchange folder to an earlier submission time, as collect reads it, changes nothing recorded."""
    folder = next((course / "exchange" / "nn101" / "inbound").iterdir())
    renamed = time.time()
    folder.rename(folder.with_name(f"alice+{ASSIGNMENT_ID}+{FORGED}+Xy12"))
    collect(course)
    assert times(course)["alice"].recorded.timestamp() >= renamed - 1


def test_a_submission_no_exchange_folder_holds_has_no_time(course: Path) -> None:
    """A collected copy whose submission_secret.txt no exchange folder holds (its folder deleted or changed after
    collect) gets no recorded time, and says why."""
    collect(course)
    (course / "submitted" / "alice" / ASSIGNMENT_ID / "submission_secret.txt").write_text("b" * 128)
    alice = times(course)["alice"]
    assert alice.recorded is None and "no folder of this student's in the exchange" in alice.unrecorded


def test_without_an_exchange_no_time_is_recorded(course: Path) -> None:
    """With no exchange to read, there is no recorded time, whatever timestamp.txt says, and the reason is given."""
    collect(course)
    alice = submission_times(course / "submitted", ["alice"], ASSIGNMENT_ID, None, "no exchange was given")["alice"]
    assert alice.recorded is None and alice.claimed is not None and alice.unrecorded == "no exchange was given"
