"""Grading a whole class: every collected submission, in parallel, resumable, into one folder of results.

The input is nbgrader's ``submitted/`` folder (``<student>/<assignment>/*.ipynb``). Each
submission is graded by its own grading run (``pytest`` on the package, see ``launch.py``),
with its own workers for the student's code; several run at once, one per core. A grading
run is forked by a long-lived job slot (``autograder/slot.py``) that has paid Python's and
torch's start-up once for all the submissions it grades.
Each finished grade is written at once, with a fingerprint of what was graded, so an
interrupted run loses nothing finished and a re-run grades only what is new or changed.
"""

import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from autograder.boundary.confinement import Confinement
from autograder.contract import ASSIGNMENT_ID
from autograder.fingerprint import digest_files, files_under, grader_digest
from autograder.launch import COMPLETED, grader_arguments, grader_environment
from autograder.reports.report import Graded, write_atomically
from autograder.reports.untrusted import log_text

RESULTS = "results.json"
FINGERPRINT = "fingerprint.txt"
LOG = "grading.log"
# A grading's log longer than this is cut when it is made inert (a grading's log is some kB).
MAX_LOG_BYTES = 16 * 1024 * 1024


class JobSlot:
    """One long-lived grading process (``python -m autograder.slot``) that grades one submission at a time.

    It starts importing what gradings need at once, and grades once it is told the class's confinement
    (``begin``): grade-all starts its slots before it tries the confinement, which takes as long.
    """

    def __init__(self) -> None:
        # A session of its own: Ctrl-C reaches only grade-all, which then stops each slot cleanly.
        self.process = subprocess.Popen([sys.executable, "-m", "autograder.slot"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=grader_environment(),
                                        start_new_session=True)
        self.begun = False

    def begin(self, confinement: Confinement) -> None:
        self.send({"confinement": dataclasses.asdict(confinement)})
        self.begun = True

    def try_confinement(self, protected: list[Path]) -> Confinement | None:
        """Have this slot try the confinement for the class, and begin with it; what it found, None if it died."""
        try:
            self.send({"try": [str(path) for path in protected]})
            found = Confinement.from_json(json.loads(self.process.stdout.readline())["confinement"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self.begun = True
        return found

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def grade(self, arguments: list[str], log: Path) -> int | None:
        """Run a grading of ``pytest arguments``, its output in ``log``; its exit code, None if the slot died."""
        try:
            self.send({"arguments": arguments, "log": str(log)})
            return json.loads(self.process.stdout.readline())["returncode"]
        except (OSError, ValueError, KeyError):
            return None

    def stop(self) -> None:
        if not self.begun:  # it has only imported: nothing of it is worth waiting for
            self.process.kill()
        try:
            self.process.stdin.close()
        except OSError:  # it died: there is nothing to tell it
            pass
        self.process.wait()


class ClassGrader:
    """Grades the submissions of ``students`` under ``submitted`` into ``out``, ``jobs`` at a time."""

    def __init__(self, submitted: Path, out: Path, reference: Path, students: list[str], assignment: str = ASSIGNMENT_ID,
                 jobs: int | None = None, protected: list[Path] = (), allow_unconfined: bool = False,
                 options: list[str] = (), when_graded: Callable[[Graded], object] | None = None) -> None:
        self.submitted, self.out, self.reference, self.assignment = submitted, out, reference, assignment
        # What to do with each grade as soon as it is made (its feedback page), one at a time, while the slots go on.
        self.when_graded = when_graded
        self._when_graded_lock = threading.Lock()
        self.ids = list(students)  # the folders of submitted/ to grade: the roster's (see roster.py)
        self.confinement: Confinement | None = None  # the class's, once tried (see ``grade``)
        self.jobs = jobs or os.cpu_count() or 1
        # No student's code may read the class's submissions and results, nor run unconfined unless allowed.
        self.grader_options = [option for path in protected for option in ("--protect", str(path))]
        self.grader_options.append("--no-early-runs")  # the jobs keep every core busy already
        # The reference's answers are computed once for the class, in a folder of the class's results, which student
        # code cannot reach (it is protected, as all of ``out``).
        self.grader_options += ["--reference-cache", str(out / ".reference-cache")]
        self.grader_options.append("--allow-unconfined" if allow_unconfined else "--require-confinement")
        self.grader_options += options  # the instructor's (limits, ...), which a grade depends on too
        self._slots: queue.Queue[JobSlot] = queue.Queue()
        self._started: list[JobSlot] = []
        self._interrupted = False
        self._lock = threading.Lock()
        self._grader_digest = grader_digest(reference)  # once per run, not per student
        self._grader_digest.update(json.dumps(list(options)).encode())
        self._digests: dict[str, str] = {}
        self._todo: list[str] = []
        self.unstartable: OSError | None = None  # why no job slot could start, where none could

    def fingerprint(self, student_id: str) -> str:
        """A digest of everything this student's grade depends on: their files, the reference, the grader."""
        digest = self._grader_digest.copy()
        submission = self.submitted / student_id / self.assignment
        digest_files(files_under(submission), submission, "submission", digest)
        return digest.hexdigest()

    def is_up_to_date(self, student_id: str, digest: str) -> bool:
        """Whether this student's results were made from files whose fingerprint is ``digest``."""
        recorded = self.out / student_id / FINGERPRINT
        return (recorded.is_file() and (self.out / student_id / RESULTS).is_file()
                and recorded.read_text() == digest)

    def start(self, regrade: bool = False) -> None:
        """Find what is new or changed (everything with ``regrade``), and start a job slot for each, up to ``jobs``:
        they import what gradings need while the confinement is tried. ``stop`` must follow, whatever happens."""
        self._digests = {s: self.fingerprint(s) for s in self.ids}
        self._todo = [s for s, digest in self._digests.items() if regrade or not self.is_up_to_date(s, digest)]
        try:
            for _ in range(min(self.jobs, len(self._todo))):
                self._add_slot()
        except OSError as error:  # this Python cannot start itself again (as this user, here): fewer slots
            if not self._started:
                self.unstartable = error

    def stop(self) -> None:
        """Stop every job slot started."""
        for slot in self._started:
            slot.stop()

    def try_confinement(self, protected: list[Path]) -> Confinement | None:
        """The class's confinement, tried once in a job slot, which has imported what a worker needs (a trial is a
        fork, as workers are): grade-all itself then imports no torch. None where no slot started (nothing to grade)
        or the slot died."""
        if not self._started:
            return None
        return self._started[0].try_confinement(protected)

    def grade(self, confinement: Confinement) -> tuple[list[str], list[Graded]]:
        """Grade what ``start`` found, with student code confined as ``confinement`` says; return who was graded, and
        every grade."""
        self.confinement = confinement
        todo = self._todo
        for slot in self._started:
            if not slot.begun:
                slot.begin(confinement)
        with ThreadPoolExecutor(self.jobs) as pool, tqdm(total=len(todo), unit="submission",
                                                          desc=f"grading ({self.jobs} at a time)") as bar:
            futures = [pool.submit(self.grade_one, student_id, self._digests[student_id]) for student_id in todo]
            try:
                for future in as_completed(futures):
                    future.result()
                    bar.update()
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                self.interrupt_running()
                raise
        return todo, [self.load(s) for s in self._digests]

    def _add_slot(self) -> None:
        slot = JobSlot()
        if self.confinement is not None:  # a slot that replaces one that died
            slot.begin(self.confinement)
        with self._lock:
            self._started.append(slot)
        self._slots.put(slot)

    def grade_one(self, student_id: str, digest: str) -> None:
        """Grade one submission (whose fingerprint is ``digest``) in a grading run of its own, in a free slot.

        Its results are kept only if the run completed.
        """
        submission = self.submitted / student_id / self.assignment
        folder = self.out / student_id
        folder.mkdir(parents=True, exist_ok=True)
        for name in (FINGERPRINT, RESULTS):
            (folder / name).unlink(missing_ok=True)
        arguments = grader_arguments(submission, folder / RESULTS, "--reference", str(self.reference),
                                     *self.grader_options)
        slot = self._slots.get()
        returncode = slot.grade(arguments, folder / LOG)
        if returncode is None:  # the slot itself died (it is never student code's to kill): a new one
            if not self._interrupted:
                self._add_slot()
        else:
            self._slots.put(slot)
        inert_log(folder / LOG)
        if returncode in COMPLETED and (folder / RESULTS).is_file():
            write_atomically(folder / FINGERPRINT, digest)
        else:
            # An interrupted or broken run may have written partial results; they are not a grade.
            (folder / RESULTS).unlink(missing_ok=True)
        if self.when_graded is not None:
            with self._when_graded_lock:
                self.when_graded(self.load(student_id))

    def interrupt_running(self) -> None:
        """Stop the gradings in progress as Ctrl-C would, so each stops its workers first."""
        with self._lock:
            self._interrupted = True
            running = [slot.process for slot in self._started]
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def load(self, student_id: str) -> Graded:
        """This student's grade as it stands in ``out``."""
        results = self.out / student_id / RESULTS
        if results.is_file():
            return Graded(student_id, json.loads(results.read_text()))
        log = self.out / student_id / LOG
        return Graded(student_id, None, f"not graded: the grading run did not complete; see {log}")


def inert_log(path: Path) -> None:
    """Rewrite a grading's log so that printing it runs nothing: every control character but newlines and tabs
    escaped (student code's messages are in it), bytes that are not UTF-8 as ``\\xNN``; its mode kept."""
    try:
        mode = os.stat(path).st_mode & 0o777
        with open(path, "rb") as handle:
            content = handle.read(MAX_LOG_BYTES + 1)
    except OSError:  # no log (the slot died before it opened one): nothing to make inert
        return
    text = content[:MAX_LOG_BYTES].decode("utf-8", errors="backslashreplace")
    cut = f"\n[cut at {MAX_LOG_BYTES // 2**20} MB]\n" if len(content) > MAX_LOG_BYTES else ""
    write_atomically(path, log_text(text) + cut, mode)
