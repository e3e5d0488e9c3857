"""Grades into nbgrader's gradebook: each part's score becomes the auto score of the part's grade cell.

Each part has one locked grade cell worth the part's points (see ``contract.PARTS``), so
``nbgrader export`` and formgrader show the same figures as ``grades.csv``.
"""

from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.boundary.notebook import read_submitted_file
from autograder.contract import PARTS
from autograder.reports.report import Graded, part_points


class GradebookError(Exception):
    """The gradebook cannot take these grades; the message says what to do."""


def gradebook_problem(db_url: str, assignment: str) -> str | None:
    """Why the gradebook at ``db_url`` cannot take this assignment's grades, with the fix; None if it can.

    Nothing is created: nbgrader would make an empty database file at a new SQLite path.
    """
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        return (f"there is no gradebook at {db_url.removeprefix('sqlite:///')}: run `nbgrader generate_assignment "
                f"{assignment}` in the course folder first, which makes it")
    try:
        with Gradebook(db_url) as gradebook:
            gradebook.find_assignment(assignment)
            for part in PARTS.values():
                gradebook.find_grade_cell(part.grade_cell, Path(part.notebook).stem, assignment)
    except MissingEntry:
        return (f"it does not know {assignment!r} and its grade cells: run `nbgrader generate_assignment {assignment}` "
                "on the current solutions/ first")
    except Exception as error:  # noqa: BLE001 - whatever keeps the database from opening, said as it is
        return f"it cannot be opened ({type(error).__name__}: {error})"
    return None


def record_grades(db_url: str, assignment: str, grades: list[Graded], submitted: Path) -> list[str]:
    """Write every grade into the gradebook at ``db_url``; return its students who submitted nothing.

    A submission the grader could not grade is recorded with zero points. The submission's
    time is nbgrader's ``timestamp.txt`` where present, so nbgrader sees late submissions.
    """
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise GradebookError(f"the gradebook {db_url} has no assignment {assignment!r}: "
                                 f"run `nbgrader generate_assignment {assignment}` in the course folder first") from None
        for graded in grades:
            gradebook.update_or_create_student(graded.student_id)
            stamp = read_submitted_file(submitted / graded.student_id / assignment / "timestamp.txt")
            extra = {"timestamp": stamp.decode(errors="replace").strip()} if stamp is not None else {}
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
                        f"grade cell {part.grade_cell!r} is worth {grade.max_score:g} points in the gradebook, "
                        f"but {title!r} is worth {maxima[title]:g} in the autograder: "
                        "give the cell the part's points in solutions/ and run generate_assignment again"
                    )
                grade.auto_score = scores[title]
            gradebook.db.commit()
        graded_ids = {g.student_id for g in grades}
        return sorted(s.id for s in gradebook.students if s.id not in graded_ids)


def find_grade(gradebook: Gradebook, cell: str, notebook: str, assignment: str, student_id: str):
    """The student's grade for one grade cell, or a GradebookError saying the cell is unknown."""
    try:
        return gradebook.find_grade(cell, notebook, assignment, student_id)
    except MissingEntry:
        raise GradebookError(f"the gradebook has no grade cell {cell!r} in {notebook}.ipynb of {assignment!r}: "
                             "run `nbgrader generate_assignment` on the current solutions/ first") from None
