"""``python -m autograder grade-all``: find the class, grade its submissions, then write every destination.

The class is the roster (nbgrader's gradebook, a students.csv, or both; ``roster.py``): a folder of
``submitted/`` that is no student of it is reported and not graded, a student without a folder is
shown as such. Grading is ``classroom.ClassGrader``'s; the times come from nbgrader's exchange
(``submission_times.py``); what people read is ``class_outputs.py``'s.
"""

import os
import sys
from pathlib import Path

from autograder.boundary.trial import find_confinement
from autograder.boundary.worker import preload
from autograder.contract import ASSIGNMENT_ID, PARTS, PROBE_MODULES
from autograder.instructor.class_outputs import (FEEDBACK, GRADES_CSV, class_summary, feedback_page, grades_csv,
                                                 place_feedback, terminal_lines, write_class_report)
from autograder.instructor.classroom import ClassGrader
from autograder.instructor.roster import Roster, RosterError, read_roster_csv, sort_submissions
from autograder.instructor.submission_times import exchange_from_config, submission_times
from autograder.reports import class_report
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import Graded, write_atomically
from autograder.reports.similarity import Similarity
from autograder.reports.untrusted import shown


def submission_folders(submitted: Path, assignment: str) -> list[str]:
    """The names of the folders of ``submitted`` that hold a submission of ``assignment`` (links not followed;
    hidden folders, such as Jupyter's checkpoints, left out)."""
    return sorted(p.name for p in submitted.iterdir() if not p.name.startswith(".") and p.is_dir()
                  and not p.is_symlink() and (p / assignment).is_dir() and not (p / assignment).is_symlink())


def read_roster(gradebook: str | None, roster_csv: Path | None) -> Roster | None:
    """The class list: the gradebook's students and, or, the CSV's; None where neither is given.

    Raises ``RosterError`` for a CSV that cannot be read.
    """
    if gradebook is None and roster_csv is None:
        return None
    roster = Roster()
    if gradebook is not None:
        from autograder.instructor.gradebook import gradebook_students

        roster.add(gradebook_students(gradebook), "the gradebook")
    if roster_csv is not None:
        roster.add(read_roster_csv(roster_csv), roster_csv.name)
    return roster


def find_exchange(exchange: Path | None, gradebook: str | None) -> tuple[Path | None, str]:
    """The course's folder in nbgrader's exchange, or None and why: ``--exchange``, else (with a gradebook, so in a
    course folder) nbgrader's configuration of the current folder."""
    if exchange is not None:
        return exchange, ""
    if gradebook is None:
        return None, "no exchange was given (--exchange, the course's folder in nbgrader's exchange)"
    try:
        found = exchange_from_config()
    except Exception as error:  # noqa: BLE001 - the instructor's configuration file, whatever it raises
        return None, f"nbgrader's configuration here could not be read ({type(error).__name__}: {error})"
    if found is None:
        return None, "nbgrader's configuration here names no course (CourseDirectory.course_id); give --exchange"
    return found, ""


def grade_class(submitted: Path, out: Path, reference: Path, assignment: str = ASSIGNMENT_ID,
                jobs: int | None = None, regrade: bool = False, gradebook: str | None = None,
                feedback: Path | None = None, allow_unconfined: bool = False, options: list[str] = (),
                roster_csv: Path | None = None, exchange: Path | None = None, admit_unlisted: bool = False) -> int:
    """Grade, then write feedback, grades.csv, the class report and the gradebook.

    Returns the exit code: 0 when every submission of the class has a grade, 1 when some could not be
    graded (each gets zero and says why), 2 for a usage problem or a destination that failed, 130 when
    interrupted.
    """
    if not submitted.is_dir():
        print(f"{submitted} is not a folder; give nbgrader's submitted/ folder.", file=sys.stderr)
        return 2
    problems = destination_problems(out, gradebook, feedback, assignment)
    roster = None
    if not problems:
        try:
            roster = read_roster(gradebook, roster_csv)
        except RosterError as error:
            problems.append(f"--roster: {error}")
    if problems:
        print("Nothing was graded: " + "; ".join(problems) + ".", file=sys.stderr)
        return 2
    found = sort_submissions(submission_folders(submitted, assignment), roster, admit_unlisted)
    out.mkdir(parents=True, exist_ok=True)
    protected = [submitted, out, *([feedback] if feedback is not None else [])]
    grader = ClassGrader(submitted, out, reference, found.graded, assignment, jobs, protected, allow_unconfined,
                         options, when_graded=lambda graded: write_feedback_page(out, graded))
    try:
        grader.start(regrade)
        confinement = grader.try_confinement([reference, *protected])
        if confinement is None:  # no job slot to try it in
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
    course_exchange, no_exchange = find_exchange(exchange, gradebook)
    record = ClassRecord(grades, found.absent, found.refused, found.admitted,
                         submission_times(submitted, found.graded, assignment, course_exchange, no_exchange),
                         roster.source if roster is not None else "", "" if no_exchange else str(course_exchange))
    failed, similarity = write_destinations(record, submitted, out, assignment, gradebook, feedback,
                                            roster)
    print(f"{len(graded_now)} graded now, {len(grades) - len(graded_now)} already up to date; "
          f"grades in {out / GRADES_CSV}")
    print(f"Class report: {out / class_report.CLASS_REPORT}")
    print(class_summary(record, similarity))
    for line in terminal_lines(record):
        print(line, file=sys.stderr)
    for destination in failed:
        print(f"Not written: {destination}. Everything else was.", file=sys.stderr)
    return 2 if failed else 1 if len(record.graded) < len(grades) else 0


def write_feedback_page(out: Path, graded: Graded) -> bool:
    """Write a student's feedback page beside their results (as soon as they are graded, while the class goes on);
    False where it could not be written, and then no page is left (an older one would show an older grade)."""
    page = out / graded.student_id / FEEDBACK
    try:
        write_atomically(page, feedback_page(graded, list(PARTS)))
        return True
    except OSError:
        page.unlink(missing_ok=True)
        return False


def write_destinations(record: ClassRecord, submitted: Path, out: Path, assignment: str,
                       gradebook: str | None, feedback: Path | None,
                       roster: Roster | None) -> tuple[list[str], Similarity | None]:
    """Write feedback pages, the gradebook, grades.csv, the class report and nbgrader's feedback folder, each
    costing only itself if it fails; each destination that failed, and the class's similarity."""
    failed, similarity = [], None
    # Each student graded now has a page already, unless it could not be written then: tried once more.
    unwritten = [graded.student_id for graded in record.grades
                 if not (out / graded.student_id / FEEDBACK).is_file() and not write_feedback_page(out, graded)]
    if unwritten:
        failed.append(f"the feedback pages of {', '.join(map(shown, unwritten))} in {out}")
    if gradebook is not None:
        from autograder.instructor.gradebook import record_grades

        try:
            record_grades(gradebook, assignment, record, roster)
        except Exception as error:  # noqa: BLE001 - the gradebook's failure, whatever it is, is the gradebook's alone
            failed.append(f"the gradebook {gradebook} ({error})")
    try:
        write_atomically(out / GRADES_CSV, grades_csv(record))
        similarity = write_class_report(out, record, submitted, assignment)
    except OSError as error:
        failed.append(f"the grades or the class report in {out} ({error})")
    if feedback is not None:
        try:
            for graded in record.grades:
                place_feedback(graded, submitted / graded.student_id / assignment,
                               feedback / graded.student_id / assignment)
        except OSError as error:
            failed.append(f"the feedback in {feedback} ({error})")
    return failed, similarity


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
            problems.append(f"{option} {shown(str(folder))}: {why}; give a folder you can write")
    if gradebook is not None:
        from autograder.instructor.gradebook import gradebook_problem

        why = gradebook_problem(gradebook, assignment)
        if why is not None:
            problems.append(f"--gradebook {gradebook}: {why}")
    return problems
