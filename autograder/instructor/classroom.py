"""Grading a whole class: every collected submission, in parallel, resumable, into one folder of results.

The input is nbgrader's ``submitted/`` folder (``<student>/<assignment>/*.ipynb``). Each
submission is graded by its own grading run (``pytest`` on the package, see ``launch.py``),
with its own workers for the student's code; several run at once, one per core. A grading
run is forked by a long-lived job slot (``autograder/slot.py``) that has paid Python's and
torch's start-up once for all the submissions it grades.
Each finished grade is written at once, with a fingerprint of what was graded, so an
interrupted run loses nothing finished and a re-run grades only what is new or changed.
"""

import csv
import dataclasses
import io
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from autograder.boundary.confinement import Confinement, find_confinement
from autograder.boundary.worker import preload
from autograder.boundary.notebook import read_submitted_file
from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, PROBE_MODULES, REPO_ROOT, parts_of
from autograder.fingerprint import digest_files, files_under, grader_digest
from autograder.instructor.launch import COMPLETED, grader_arguments, grader_environment
from autograder.reports import class_report
from autograder.reports.report import Graded, format_points, part_points, write_atomically
from autograder.reports.similarity import Similarity, compare_class
from autograder.reports.student_report import render

RESULTS = "results.json"
FINGERPRINT = "fingerprint.txt"
LOG = "grading.log"
FEEDBACK = "feedback.html"
# What nbgrader's release_feedback needs beside each feedback page, copied from the submission
# (only regular files, never a link).
NBGRADER_SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


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
        self.send(dataclasses.asdict(confinement))
        self.begun = True

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
    """Grades the submissions under ``submitted`` into ``out``, ``jobs`` at a time."""

    def __init__(self, submitted: Path, out: Path, reference: Path, assignment: str = ASSIGNMENT_ID,
                 jobs: int | None = None, protected: list[Path] = (), allow_unconfined: bool = False,
                 options: list[str] = ()) -> None:
        self.submitted, self.out, self.reference, self.assignment = submitted, out, reference, assignment
        self.confinement: Confinement | None = None  # the class's, once tried (see ``grade``)
        self.jobs = jobs or os.cpu_count() or 1
        # No student's code may read the class's submissions and results, nor run unconfined unless allowed.
        self.grader_options = [option for path in protected for option in ("--protect", str(path))]
        self.grader_options.append("--no-early-runs")  # the jobs keep every core busy already
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

    def students(self) -> list[str]:
        """Every student with a folder in ``submitted``, sorted."""
        return sorted(p.name for p in self.submitted.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))

    def is_up_to_date(self, student_id: str, digest: str) -> bool:
        """Whether this student's results were made from files whose fingerprint is ``digest``."""
        recorded = self.out / student_id / FINGERPRINT
        return (recorded.is_file() and (self.out / student_id / RESULTS).is_file()
                and recorded.read_text() == digest)

    def start(self, regrade: bool = False) -> None:
        """Find what is new or changed (everything with ``regrade``), and start a job slot for each, up to ``jobs``:
        they import what gradings need while the confinement is tried. ``stop`` must follow, whatever happens."""
        self._digests = {s: self.fingerprint(s) for s in self.students()}
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

    def grade(self, confinement: Confinement) -> tuple[list[str], list[Graded]]:
        """Grade what ``start`` found, with student code confined as ``confinement`` says; return who was graded, and
        every grade."""
        self.confinement = confinement
        todo = self._todo
        for slot in self._started:
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
        if returncode in COMPLETED and (folder / RESULTS).is_file():
            write_atomically(folder / FINGERPRINT, digest)
        else:
            # An interrupted or broken run may have written partial results; they are not a grade.
            (folder / RESULTS).unlink(missing_ok=True)

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


def grades_csv(grades: list[Graded], absent: list[str] = ()) -> str:
    """One row per student: ``student_id``, ``score``, ``max_score``, then one column per part.

    Students in ``absent`` (known to the gradebook, nothing submitted) and submissions that
    could not be graded get zero. Every figure is written as the score table writes it
    (``0``, ``1.5``, ``63``), whoever it is for.
    """
    max_score = next((g.results["max_score"] for g in grades if g.results is not None), 0.0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "score", "max_score", *PARTS])
    nothing = dict.fromkeys(PARTS, 0.0)
    rows = [(g.student_id, g.results["score"] if g.results else 0.0, g.results["max_score"] if g.results else max_score,
             part_points(g.results) if g.results else nothing) for g in grades]
    rows += [(student_id, 0.0, max_score, nothing) for student_id in absent]
    for student_id, score, maximum, parts in rows:
        writer.writerow([student_id, *(format_points(x) for x in (score, maximum, *(parts[p] for p in PARTS)))])
    return buffer.getvalue()


def grade_class(submitted: Path, out: Path, reference: Path, assignment: str = ASSIGNMENT_ID,
                jobs: int | None = None, regrade: bool = False, gradebook: str | None = None,
                feedback: Path | None = None, allow_unconfined: bool = False, options: list[str] = ()) -> int:
    """``python -m autograder grade-all``: grade, then write feedback, grades.csv and the gradebook.

    Returns the exit code: 0 when every submission has a grade, 1 when some could not be
    graded (each gets zero and says why), 2 for a usage problem, 130 when interrupted.
    """
    if not submitted.is_dir():
        print(f"{submitted} is not a folder; give nbgrader's submitted/ folder.", file=sys.stderr)
        return 2
    problems = destination_problems(out, gradebook, feedback, assignment)
    if problems:
        print("Nothing was graded: " + "; ".join(problems) + ".", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    protected = [submitted, out, *([feedback] if feedback is not None else [])]
    grader = ClassGrader(submitted, out, reference, assignment, jobs, protected, allow_unconfined, options)
    try:
        grader.start(regrade)
        preload(PROBE_MODULES)  # the trial is a fork of this process, as a grading's workers are of theirs
        confinement = find_confinement([reference, *protected])
        print(confinement.log_line)
        if not confinement.active and not allow_unconfined:
            print("Nothing was graded: a class is graded only where student code is confined, so that no student "
                  "can read another's work or forge a grade. Grade on Linux as root (or with user namespaces), "
                  "or pass --allow-unconfined to grade anyway.", file=sys.stderr)
            return 2
        if grader.unstartable is not None:
            print(f"Nothing was graded: no job slot ({sys.executable} -m autograder.slot) could start: "
                  f"{grader.unstartable}", file=sys.stderr)
            return 1
        graded_now, grades = grader.grade(confinement)
    except KeyboardInterrupt:
        print(f"Interrupted. Every finished grade is kept in {out}; "
              "run the same command again to grade the rest.", file=sys.stderr)
        return 130
    finally:
        grader.stop()
    # Each destination from here on costs only itself if it fails: the others are still written.
    failed = []
    for graded in grades:
        page = out / graded.student_id / FEEDBACK
        if graded.student_id in graded_now or not page.is_file():
            write_atomically(page, feedback_page(graded, list(PARTS)))
    absent: list[str] = []
    if gradebook is not None:
        from autograder.instructor.gradebook import record_grades

        try:
            absent = record_grades(gradebook, assignment, grades, submitted)
        except Exception as error:  # noqa: BLE001 - the gradebook's failure, whatever it is, is the gradebook's alone
            failed.append(f"the gradebook {gradebook} ({error})")
    similarity = None
    try:
        write_atomically(out / "grades.csv", grades_csv(grades, absent))
        similarity = write_class_report(out, grades, submitted, assignment)
    except OSError as error:
        failed.append(f"the grades or the class report in {out} ({error})")
    if feedback is not None:
        try:
            for graded in grades:
                place_feedback(graded, submitted / graded.student_id / assignment,
                               feedback / graded.student_id / assignment)
        except OSError as error:
            failed.append(f"the feedback in {feedback} ({error})")
    problems = [g for g in grades if g.results is None]
    print(f"{len(graded_now)} graded now, {len(grades) - len(graded_now)} already up to date; "
          f"grades in {out / 'grades.csv'}" + (f", {len(absent)} without a submission: {', '.join(absent)}" if absent else ""))
    print(f"Class report: {out / class_report.CLASS_REPORT}")
    print(class_summary(grades, similarity))
    for graded in problems:
        print(f"{graded.student_id}: {graded.problem}", file=sys.stderr)
    for destination in failed:
        print(f"Not written: {destination}. Everything else was.", file=sys.stderr)
    return 2 if failed else 1 if problems else 0


def writable_folder(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (made where it is missing), or None if they can; makes nothing."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} cannot be written by this user"
    return None


def destination_problems(out: Path, gradebook: str | None, feedback: Path | None, assignment: str) -> list[str]:
    """Each destination that cannot take the class's grades, and the fix, found before any grading."""
    problems = []
    for option, folder in (("--out", out), ("--feedback", feedback)):
        why = None if folder is None else writable_folder(folder)
        if why is not None:
            problems.append(f"{option} {folder}: {why}; give a folder you can write")
    if gradebook is not None:
        from autograder.instructor.gradebook import gradebook_problem

        why = gradebook_problem(gradebook, assignment)
        if why is not None:
            problems.append(f"--gradebook {gradebook}: {why}")
    return problems


def class_summary(grades: list[Graded], similarity: Similarity | None) -> str:
    """One line for the terminal: how many were graded, the median, what could not be graded, the flagged pairs."""
    scored = [g.results["score"] for g in grades if g.results is not None]
    words = [f"{len(scored)} of {len(grades)} submissions graded"]
    if scored:
        maximum = next(g.results["max_score"] for g in grades if g.results is not None)
        words.append(f"median {format_points(statistics.median(scored))} / {format_points(maximum)}")
    if len(scored) < len(grades):
        words.append(f"{len(grades) - len(scored)} could not be graded")
    if similarity is not None:
        flagged = len(similarity.flagged)
        words.append(f"{flagged} {'pair' if flagged == 1 else 'pairs'} of submissions flagged as similar")
    return "Summary: " + "; ".join(words) + "."


def write_class_report(out: Path, grades: list[Graded], submitted: Path, assignment: str) -> Similarity:
    """``out/class_report.html``: the class's scores, checks, failures and similar submissions.

    Similarity is computed afresh each time (a second for a class of 8, pairs grow as the class
    squared), with the released notebooks in ``assignments/`` as the starter code to exclude.
    """
    submissions = {g.student_id: submitted / g.student_id / assignment for g in grades}
    similarity = compare_class(submissions, REPO_ROOT / "assignments" / assignment, list(GRADED_NAMES))
    class_report.write(out / class_report.CLASS_REPORT, grades, similarity, assignment, datetime.now().astimezone())
    return similarity


def feedback_page(graded: Graded, parts: list[str]) -> str:
    """The student's page for ``parts``; without the figures the student's code reported, where they break it.

    Those figures (the training curves) are whatever the student's ``train_mlp`` returned: one
    student's odd values must cost their page its plot, never the class its grades.
    """
    try:
        return render(graded.student_id, graded.results, parts, graded.problem)
    except Exception:  # noqa: BLE001 - any failure of the student's own figures; the grades still go out
        results = {**graded.results, "extra_data": {}} if graded.results else graded.results
        return render(graded.student_id, results, parts, graded.problem)


def place_feedback(graded: Graded, submission: Path, destination: Path) -> None:
    """One page per submitted notebook, with that notebook's parts, where ``nbgrader release_feedback`` looks."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in NBGRADER_SUBMISSION_FILES:
        content = read_submitted_file(submission / name)
        if content is not None:
            (destination / name).write_bytes(content)
    for notebook in GRADED_NAMES:
        if (submission / notebook).is_file():
            write_atomically(destination / f"{Path(notebook).stem}.html", feedback_page(graded, parts_of(notebook)))
