"""Grades into nbgrader's gradebook, which only grade-all writes: each part's score is the auto score of its task cell.

Each part's points sit on one locked markdown *task* cell of its notebook (see ``contract.PARTS``,
``Part.grade_cell``), not on a code cell: ``nbgrader autograde`` scores a code grade cell from
what it outputs in the kernel where the student's own cells ran first, which a student's cell can
make say anything, but it never scores a task cell (``SaveAutoGrades`` scores grade cells only).
So the gradebook's points come from grade-all alone, whichever runs last; an instructor's manual
score in formgrader still overrides them, as nbgrader intends. ``nbgrader export`` and formgrader
show the same figures as ``grades.csv``.

The gradebook also knows the class: its students are the roster (``roster.py``), and a folder of
``submitted/`` that is not one of them is never made a student here unless the instructor admits it.
"""

from pathlib import Path

from nbgrader.api import Gradebook, GradeCell, MissingEntry

from autograder.contract import PARTS
from autograder.instructor.roster import Roster, Student
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import part_points


class GradebookError(Exception):
    """The gradebook cannot take these grades; the message says what to do."""


def gradebook_problem(db_url: str, assignment: str) -> str | None:
    """Why the gradebook at ``db_url`` cannot take this assignment's grades, with the fix; None if it can.

    Nothing is created: nbgrader would make an empty database file at a new SQLite path.
    """
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        return (f"there is no gradebook at {db_url.removeprefix('sqlite:///')}: run `nbgrader generate_assignment "
                f"{assignment}` in the course folder first, which makes it")
    regenerate = f"run `nbgrader generate_assignment {assignment} --force` on the current solutions/ first"
    try:
        with Gradebook(db_url) as gradebook:
            gradebook.find_assignment(assignment)
            for part in PARTS.values():
                cell = gradebook.find_graded_cell(part.grade_cell, Path(part.notebook).stem, assignment)
                if isinstance(cell, GradeCell):
                    return (f"its cell {part.grade_cell!r} is an autograder tests cell, which `nbgrader autograde` "
                            f"scores from the student's own kernel: {regenerate} (the part's points are on a task "
                            "cell, which only grade-all scores)")
    except MissingEntry:
        return f"it does not know {assignment!r} and its parts' cells: {regenerate}"
    except Exception as error:  # noqa: BLE001 - whatever keeps the database from opening, said as it is
        return f"it cannot be opened ({type(error).__name__}: {error})"
    return None


def gradebook_students(db_url: str) -> list[Student]:
    """The students the gradebook knows (``nbgrader db student add`` or ``import``): the class's roster."""
    with Gradebook(db_url) as gradebook:
        return [Student(s.id, s.first_name or "", s.last_name or "", s.email or "") for s in gradebook.students]


def record_grades(db_url: str, assignment: str, record: ClassRecord, roster: Roster | None) -> None:
    """Write the grade of every submission of ``record`` into the gradebook at ``db_url``, with its time.

    A submission the grader could not grade is recorded with zero points. A student the gradebook does
    not know yet (on a students.csv roster, or admitted) is added, with the roster's names. The
    submission's time is its recorded time (``submission_times``), never its own timestamp.txt, so that
    nbgrader sees late submissions as late; where there is no record, no time is written.
    """
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise GradebookError(f"the gradebook {db_url} has no assignment {assignment!r}: "
                                 f"run `nbgrader generate_assignment {assignment}` in the course folder first") from None
        for graded in record.grades:
            listed = roster.students.get(graded.student_id) if roster is not None else None
            names = {"first_name": listed.first_name or None, "last_name": listed.last_name or None,
                     "email": listed.email or None} if listed is not None else {}
            try:
                gradebook.find_student(graded.student_id)
            except MissingEntry:
                gradebook.add_student(graded.student_id, **names)
            time = record.times.get(graded.student_id)
            # nbgrader keeps times as naive UTC (its parse_utc).
            extra = ({"timestamp": time.recorded.replace(tzinfo=None)}
                     if time is not None and time.recorded is not None else {})
            # nbgrader's add_submission builds the submission's rows before adding them to the session,
            # and the lazy loads in between would autoflush them half-built: three SQLAlchemy SAWarnings
            # ("... not in session, add operation ... will not proceed") per new submission. Its own
            # commit flushes them whole; this is the remedy SQLAlchemy's warning itself names.
            with gradebook.db.no_autoflush:
                gradebook.update_or_create_submission(assignment, graded.student_id, **extra)
            scores = part_points(graded.results) if graded.results else dict.fromkeys(PARTS, 0.0)
            maxima = part_points(graded.results, "max_score") if graded.results else None
            for title, part in PARTS.items():
                grade = find_grade(gradebook, part.grade_cell, Path(part.notebook).stem, assignment, graded.student_id)
                if maxima is not None and grade.max_score != maxima[title]:
                    raise GradebookError(
                        f"cell {part.grade_cell!r} is worth {grade.max_score:g} points in the gradebook, "
                        f"but {title!r} is worth {maxima[title]:g} in the autograder: "
                        "give the cell the part's points in solutions/ and run generate_assignment again"
                    )
                grade.auto_score = scores[title]
                grade.needs_manual_grade = False  # a task cell is "manually graded" to nbgrader: grade-all graded it
            gradebook.db.commit()


def find_grade(gradebook: Gradebook, cell: str, notebook: str, assignment: str, student_id: str):
    """The student's grade for one part's cell, or a GradebookError saying the cell is unknown."""
    try:
        return gradebook.find_grade(cell, notebook, assignment, student_id)
    except MissingEntry:
        raise GradebookError(f"the gradebook has no cell {cell!r} in {notebook}.ipynb of {assignment!r}: "
                             "run `nbgrader generate_assignment` on the current solutions/ first") from None
