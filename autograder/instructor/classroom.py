"""Grading a whole class: every collected submission, in parallel, resumable, into one folder of results.

The input is nbgrader's ``submitted/`` folder (``<student>/<assignment>/*.ipynb``). Each
submission is graded by its own grading run (``pytest`` on the package, see ``launch.py``),
which starts its own worker for the student's code; several run at once, one per core.
Each finished grade is written at once, with a fingerprint of what was graded, so an
interrupted run loses nothing finished and a re-run grades only what is new or changed.
"""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, parts_of
from autograder.fingerprint import digest_files, files_under, grader_digest
from autograder.instructor.launch import COMPLETED, grader_command
from autograder.reports.report import Graded, format_points, part_points, write_atomically
from autograder.reports.student_report import render

RESULTS = "results.json"
FINGERPRINT = "fingerprint.txt"
LOG = "grading.log"
FEEDBACK = "feedback.html"
# What nbgrader's release_feedback needs beside each feedback page, copied from the submission.
NBGRADER_SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


class ClassGrader:
    """Grades the submissions under ``submitted`` into ``out``, ``jobs`` at a time."""

    def __init__(self, submitted: Path, out: Path, reference: Path, assignment: str = ASSIGNMENT_ID,
                 jobs: int | None = None) -> None:
        self.submitted, self.out, self.reference, self.assignment = submitted, out, reference, assignment
        self.jobs = jobs or os.cpu_count() or 1
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._grader_digest = grader_digest(reference)  # once per run, not per student

    def fingerprint(self, student_id: str) -> str:
        """A digest of everything this student's grade depends on: their files, the reference, the grader."""
        digest = self._grader_digest.copy()
        submission = self.submitted / student_id / self.assignment
        digest_files(files_under(submission), submission, "submission", digest)
        return digest.hexdigest()

    def students(self) -> list[str]:
        """Every student with a folder in ``submitted``, sorted."""
        return sorted(p.name for p in self.submitted.iterdir() if p.is_dir() and not p.name.startswith("."))

    def is_up_to_date(self, student_id: str, digest: str) -> bool:
        """Whether this student's results were made from files whose fingerprint is ``digest``."""
        recorded = self.out / student_id / FINGERPRINT
        return (recorded.is_file() and (self.out / student_id / RESULTS).is_file()
                and recorded.read_text() == digest)

    def grade(self, regrade: bool = False) -> tuple[list[str], list[Graded]]:
        """Grade what is new or changed (everything with ``regrade``); return who was graded, and every grade."""
        students = self.students()
        digests = {s: self.fingerprint(s) for s in students}
        todo = [s for s in students if regrade or not self.is_up_to_date(s, digests[s])]
        with ThreadPoolExecutor(self.jobs) as pool, tqdm(total=len(todo), unit="submission",
                                                          desc=f"grading ({self.jobs} at a time)") as bar:
            futures = [pool.submit(self.grade_one, student_id, digests[student_id]) for student_id in todo]
            try:
                for future in as_completed(futures):
                    future.result()
                    bar.update()
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                self.interrupt_running()
                raise
        return todo, [self.load(s) for s in students]

    def grade_one(self, student_id: str, digest: str) -> None:
        """Grade one submission (whose fingerprint is ``digest``) in a grading run of its own.

        Its results are kept only if the run completed.
        """
        submission = self.submitted / student_id / self.assignment
        folder = self.out / student_id
        folder.mkdir(parents=True, exist_ok=True)
        for name in (FINGERPRINT, RESULTS):
            (folder / name).unlink(missing_ok=True)
        command = grader_command(submission, folder / RESULTS, "--reference", str(self.reference))
        with open(folder / LOG, "w") as log:
            # A session of its own: Ctrl-C reaches only this process, which then stops the run cleanly.
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
            with self._lock:
                self._running.add(process)
            returncode = process.wait()
            with self._lock:
                self._running.discard(process)
        if returncode in COMPLETED and (folder / RESULTS).is_file():
            write_atomically(folder / FINGERPRINT, digest)
        else:
            # An interrupted or broken run may have written partial results; they are not a grade.
            (folder / RESULTS).unlink(missing_ok=True)

    def interrupt_running(self) -> None:
        """Stop the grading runs in progress as Ctrl-C would, so each stops its worker first."""
        with self._lock:
            running = list(self._running)
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
                feedback: Path | None = None) -> int:
    """``python -m autograder grade-all``: grade, then write feedback, grades.csv and the gradebook.

    Returns the exit code: 0 when every submission has a grade, 1 when some could not be
    graded (each gets zero and says why), 2 for a usage problem, 130 when interrupted.
    """
    if not submitted.is_dir():
        print(f"{submitted} is not a folder; give nbgrader's submitted/ folder.", file=sys.stderr)
        return 2
    grader = ClassGrader(submitted, out, reference, assignment, jobs)
    try:
        graded_now, grades = grader.grade(regrade)
    except KeyboardInterrupt:
        print(f"Interrupted. Every finished grade is kept in {out}; "
              "run the same command again to grade the rest.", file=sys.stderr)
        return 130
    for graded in grades:
        page = out / graded.student_id / FEEDBACK
        if graded.student_id in graded_now or not page.is_file():
            write_atomically(page, render(graded.student_id, graded.results, list(PARTS), graded.problem))
    absent: list[str] = []
    if gradebook is not None:
        from autograder.instructor.gradebook import GradebookError, record_grades

        try:
            absent = record_grades(gradebook, assignment, grades, submitted)
        except GradebookError as error:
            print(f"Grades not written to the gradebook: {error}", file=sys.stderr)
            return 2
    write_atomically(out / "grades.csv", grades_csv(grades, absent))
    if feedback is not None:
        for graded in grades:
            place_feedback(graded, submitted / graded.student_id / assignment, feedback / graded.student_id / assignment)
    problems = [g for g in grades if g.results is None]
    print(f"{len(graded_now)} graded now, {len(grades) - len(graded_now)} already up to date; "
          f"grades in {out / 'grades.csv'}" + (f", {len(absent)} without a submission: {', '.join(absent)}" if absent else ""))
    for graded in problems:
        print(f"{graded.student_id}: {graded.problem}", file=sys.stderr)
    return 1 if problems else 0


def place_feedback(graded: Graded, submission: Path, destination: Path) -> None:
    """One page per submitted notebook, with that notebook's parts, where ``nbgrader release_feedback`` looks."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in NBGRADER_SUBMISSION_FILES:
        if (submission / name).is_file():
            shutil.copy(submission / name, destination / name)
    for notebook in GRADED_NAMES:
        if (submission / notebook).is_file():
            page = render(graded.student_id, graded.results, parts_of(notebook), graded.problem)
            write_atomically(destination / f"{Path(notebook).stem}.html", page)
