"""What grade-all writes for others: readable files, one number format, a gradebook without warnings."""

import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID, PARTS, RELEASE_DIR, REPO_ROOT
from autograder.instructor.class_outputs import grades_csv
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import Graded, write_atomically, write_results


def graded(student_id: str, score: float) -> Graded:
    """A grade with ``score`` points in every part, each worth 2."""
    tests = [{"name": t, "score": score, "max_score": 2.0, "tags": [t], "output": ""} for t in PARTS]
    return Graded(student_id, {"score": score * len(PARTS), "max_score": 2.0 * len(PARTS), "tests": tests})


def test_pages_and_csvs_are_readable_by_everyone(tmp_path):
    """write_atomically leaves mode 0644, whatever the temporary file had, so nbgrader hands students a readable copy."""
    page = tmp_path / "feedback.html"
    write_atomically(page, "<p>hello</p>")
    assert stat.S_IMODE(page.stat().st_mode) == 0o644


def test_results_json_stays_private(tmp_path):
    """results.json is for the grader and the instructor: mode 0600."""
    path = tmp_path / "results.json"
    write_results(path, [])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_grades_csv_writes_every_score_alike():
    """Zeros for ungraded and absent students are written as graded students' zeros are: '0', never '0.0'."""
    rows = grades_csv(ClassRecord([graded("alice", 1.5), graded("carol", 0.0), Graded("erin", None, "crashed")],
                                  absent=["frank"]))
    cells = [cell for line in rows.splitlines()[1:] for cell in line.split(",")[1:]]
    assert rows.splitlines()[1] == "alice,6,8,1.5,1.5,1.5,1.5,graded,"
    assert "0.0" not in cells and cells.count("0") == 3 * (1 + len(PARTS))


@pytest.mark.slow
def test_the_gradebook_takes_grades_without_sqlalchemy_warnings(tmp_path):
    """Recording new submissions into nbgrader's gradebook raises no warning (SQLAlchemy's SAWarning included)."""
    # nbgrader is imported in the tests that need it, not above: it takes seconds to import.
    from autograder.instructor.gradebook import record_grades

    url = make_gradebook(tmp_path / "gradebook.db", max_score=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record_grades(url, ASSIGNMENT_ID, ClassRecord([graded("alice", 1.5), Graded("erin", None, "crashed")]), None)


def test_the_sample_students_csv_has_nbgrader_s_columns():
    """students.example.csv, which the README imports, has the header `nbgrader db student import` reads."""
    header = (REPO_ROOT / "students.example.csv").read_text().splitlines()[0]
    assert header == "id,first_name,last_name,email"


def test_course_outputs_are_ignored_by_git():
    """Student data a course folder accumulates is in .gitignore, so it is never committed by accident."""
    ignored = set((REPO_ROOT / ".gitignore").read_text().splitlines())
    assert {"/submitted/", "/autograded/", "/feedback/", "/graded/", "/grades.csv", "/students.csv", "/release/"} <= ignored


def make_gradebook(path: Path, max_score: float, students: tuple[str, ...] = ()) -> str:
    """An nbgrader gradebook at ``path`` that knows ``students`` and the assignment's parts, each a task cell worth
    ``max_score``, as generate_assignment makes them; its URL."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{path}"
    with Gradebook(url) as gradebook:
        for student in students:
            gradebook.add_student(student)
        gradebook.add_assignment(ASSIGNMENT_ID)
        for part in PARTS.values():
            notebook = Path(part.notebook).stem
            if notebook not in {n.name for n in gradebook.find_assignment(ASSIGNMENT_ID).notebooks}:
                gradebook.add_notebook(notebook, ASSIGNMENT_ID)
            gradebook.add_task_cell(part.grade_cell, notebook, ASSIGNMENT_ID, max_score=max_score, cell_type="markdown")
    return url


def grade_all(submitted: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """``python -m autograder grade-all SUBMITTED --out OUT OPTIONS``."""
    return subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(out), *options],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def one_student(tmp_path: Path) -> Path:
    """nbgrader's submitted/ folder with one student's untouched notebooks."""
    shutil.copytree(RELEASE_DIR, tmp_path / "submitted" / "alice" / ASSIGNMENT_ID)
    return tmp_path / "submitted"


@pytest.mark.slow
def test_a_gradebook_that_is_not_ready_stops_grade_all_before_any_grading(one_student, tmp_path):
    """A gradebook that does not exist yet is refused, with the fix, before anything is graded or created."""
    out, database = tmp_path / "graded", tmp_path / "gradebook.db"
    run = grade_all(one_student, out, "--gradebook", f"sqlite:///{database}")
    assert run.returncode == 2 and "nbgrader generate_assignment" in run.stderr, run.stderr
    assert not out.exists() and not database.exists()


@pytest.mark.slow
def test_a_gradebook_that_fails_after_grading_costs_only_itself(one_student, tmp_path):
    """A gradebook whose grade cells are worth other points than the parts takes no grade, and says so; grades.csv,
    the class report and the feedback folder are written all the same, and the exit code says what failed."""
    out, feedback = tmp_path / "graded", tmp_path / "feedback"
    url = make_gradebook(tmp_path / "gradebook.db", max_score=1.0, students=("alice",))
    run = grade_all(one_student, out, "--gradebook", url, "--feedback", str(feedback))
    assert run.returncode == 2 and "Not written: the gradebook" in run.stderr, run.stdout + run.stderr
    assert (out / "grades.csv").is_file() and (out / "class_report.html").is_file()
    assert list((feedback / "alice" / ASSIGNMENT_ID).glob("*.html"))
    assert "Summary: 1 on the roster (the gradebook); 1 of 1 submissions graded" in run.stdout
