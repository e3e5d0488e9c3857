"""The instructor's whole loop with real nbgrader commands, in a temporary course, and a class graded in one command.

Seven students: alice (correct), bob (partial, and late), carol (untouched stubs), dave
(malformed: unreadable JSON, a syntax error, a renamed function, another assignment's
notebook), erin (hostile: tries to kill the grader), grace (submitted an empty folder) and
frank (registered, submitted nothing).
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, REFERENCE_DIR
from tests.test_hostile_submissions import ATTACKS, hostile_submission

pytestmark = pytest.mark.slow

COURSE_ID = "nn101"
STUDENTS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
ON_TIME = ["alice", "carol", "dave", "erin", "grace"]


@dataclass
class Course:
    """A temporary nbgrader course after release, submission, collection and a class grading run."""

    root: Path
    exchange: Path
    homes: Path
    graded: Path
    grade_all: subprocess.CompletedProcess
    env: dict[str, str]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def grades(self) -> dict[str, dict[str, str]]:
        """grades.csv, one row per student id."""
        with open(self.graded / "grades.csv", newline="") as handle:
            return {row["student_id"]: row for row in csv.DictReader(handle)}

    def results(self, student: str) -> dict:
        return json.loads((self.graded / student / "results.json").read_text())


def nbgrader(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run one real nbgrader command; fail the test with its output if it fails."""
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


def student_nbgrader(course: Path, exchange: Path, home: Path, env: dict[str, str], *args: str) -> None:
    """An nbgrader command as the student ``home.name`` runs it, in their own folder with their own cache."""
    nbgrader(home, env, *args, f"--course={COURSE_ID}", f"--student={home.name}",
             f"--Exchange.root={exchange}", f"--Exchange.cache={home / '.nbgrader_cache'}")


def fill_in(student: str, folder: Path) -> None:
    """Replace the fetched stubs with what this student hands in."""
    if student == "alice":
        for notebook in GRADED_NAMES:
            shutil.copy(REFERENCE_DIR / notebook, folder / notebook)
    elif student == "bob":  # Parts 1 and 3 done, Part 2 left as given
        for notebook in ("01_linear_regression.ipynb", "03_activations.ipynb"):
            shutil.copy(REFERENCE_DIR / notebook, folder / notebook)
    elif student == "dave":
        (folder / "01_linear_regression.ipynb").write_text('{"cells": [')
        (folder / "02_iris_mlp.ipynb").rename(folder / "homework_2.ipynb")
        path = folder / "03_activations.ipynb"
        shutil.copy(REFERENCE_DIR / path.name, path)
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.source = cell.source.replace("def relu(", "def my_relu(").replace("def tanh(z", "def tanh(z))")
        nbformat.write(notebook, path)
    elif student == "erin":
        shutil.rmtree(folder)
        hostile_submission("kill_the_grader", ATTACKS["kill_the_grader"], folder, port=9)
    elif student == "grace":
        for notebook in folder.glob("*.ipynb"):
            notebook.unlink()


@pytest.fixture(scope="module")
def course(tmp_path_factory, tool_env) -> Iterator[Course]:
    """Release, fetch, fill in, submit (bob after the due date), collect, then grade the class."""
    tmp = tmp_path_factory.mktemp("course")
    root, homes, env = tmp / "course", tmp / "home", tool_env
    # As on a shared hub, the exchange lies where every user can reach it, not in pytest's private folder.
    exchange = Path(tempfile.mkdtemp(prefix="autograder-exchange-"))
    exchange.chmod(0o755)
    (root / "source").mkdir(parents=True)
    shutil.copytree(REFERENCE_DIR, root / "source" / ASSIGNMENT_ID)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        "c.Execute.timeout = 600\n"
    )
    for student in STUDENTS:
        nbgrader(root, env, "db", "student", "add", student)
    nbgrader(root, env, "generate_assignment", ASSIGNMENT_ID)
    nbgrader(root, env, "release_assignment", ASSIGNMENT_ID)
    for student in [*ON_TIME, "bob"]:
        if student == "bob":  # the due date passes before bob submits
            due = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            nbgrader(root, env, "db", "assignment", "add", ASSIGNMENT_ID, f"--duedate={due}")
        home = homes / student
        home.mkdir(parents=True)
        student_nbgrader(root, exchange, home, env, "fetch_assignment", ASSIGNMENT_ID)
        fill_in(student, home / ASSIGNMENT_ID)
        student_nbgrader(root, exchange, home, env, "submit", ASSIGNMENT_ID)
    nbgrader(root, env, "collect", ASSIGNMENT_ID)
    graded = tmp / "graded"
    grade_all = subprocess.run(
        [sys.executable, "-m", "autograder", "grade-all", "submitted", "--out", str(graded), "--jobs", "2",
         "--gradebook", f"sqlite:///{root / 'gradebook.db'}", "--feedback", "feedback"],
        cwd=root, env=env, capture_output=True, text=True, timeout=1200,
    )
    yield Course(root, exchange, homes, graded, grade_all, env)
    shutil.rmtree(exchange, ignore_errors=True)


def test_collect_brings_every_submission_and_no_more(course):
    """nbgrader collect gives one submitted/ folder per student who submitted, and none for frank."""
    assert sorted(p.name for p in (course.root / "submitted").iterdir()) == sorted(set(STUDENTS) - {"frank"})


def test_the_class_run_completes(course):
    """grade-all exits 0: every submission, the hostile one included, got a grade."""
    assert course.grade_all.returncode == 0, course.grade_all.stdout + course.grade_all.stderr


def test_grades_csv_has_one_row_per_student_with_the_part_columns(course):
    """grades.csv has student_id, score, max_score and one column per part, and a row for every student."""
    with open(course.graded / "grades.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["student_id", "score", "max_score", *PARTS]
    assert sorted(course.grades()) == sorted(STUDENTS)


def test_the_correct_submission_gets_full_marks(course):
    """alice, who handed in the reference, gets every point."""
    row = course.grades()["alice"]
    assert float(row["score"]) == float(row["max_score"]) > 0


def test_the_partial_submission_gets_exactly_parts_1_and_3(course):
    """bob gets full marks on Parts 1 and 3 and nothing on Part 2."""
    row, maxima = course.grades()["bob"], course.results("alice")
    full = {title: sum(t["max_score"] for t in maxima["tests"] if title in t["tags"]) for title in PARTS}
    assert {title: float(row[title]) for title in PARTS} == {
        title: (full[title] if title.startswith(("Part 1", "Part 3")) else 0.0) for title in PARTS
    }


@pytest.mark.parametrize("student", ["carol", "grace", "erin", "frank"])
def test_submissions_with_nothing_right_get_zero(course, student):
    """Stubs, an empty folder, the hostile submission and no submission at all each get zero."""
    assert float(course.grades()[student]["score"]) == 0


@pytest.mark.parametrize("student, expected", [
    ("dave", "01_linear_regression.ipynb could not be read as a notebook"),
    ("dave", "02_iris_mlp.ipynb is missing from your submission"),
    ("dave", "has a syntax error"),
    ("dave", "`relu` is not defined at the top level of 03_activations.ipynb"),
    ("grace", "01_linear_regression.ipynb is missing from your submission"),
    ("carol", "`softmax` is not implemented yet"),
])
def test_a_bad_submission_is_told_why(course, student, expected):
    """Each kind of malformed submission gets a message naming what is wrong."""
    outputs = [t["output"] for t in course.results(student)["tests"]]
    assert any(expected in output for output in outputs), outputs[:5]


def test_the_malformed_submission_keeps_what_it_got_right(course):
    """dave's sigmoid and softmax still earn points though the rest of his notebooks are broken."""
    assert float(course.grades()["dave"]["Part 3: activation functions"]) > 0


def test_nbgrader_export_shows_the_same_scores(course):
    """`nbgrader export` after grade-all lists every student with grades.csv's score."""
    nbgrader(course.root, course.env, "export")
    with open(course.root / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert exported == {student: float(row["score"]) for student, row in course.grades().items()}


def test_the_gradebook_marks_only_bob_late(course):
    """The submission times come from nbgrader's timestamps, so only bob's is late."""
    with Gradebook(course.db_url) as gradebook:
        late = {s.student.id for s in gradebook.assignment_submissions(ASSIGNMENT_ID) if s.total_seconds_late > 0}
    assert late == {"bob"}


def test_a_rerun_grades_nothing_and_a_changed_submission_is_graded_again(course, tmp_path):
    """A second grade-all grades nothing; after carol's notebook changes, only hers is graded."""
    submitted, graded = tmp_path / "submitted", tmp_path / "graded"
    shutil.copytree(course.root / "submitted", submitted)
    shutil.copytree(course.graded, graded)
    command = [sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(graded)]
    again = subprocess.run(command, env=course.env, capture_output=True, text=True, timeout=600)
    assert "0 graded now, 6 already up to date" in again.stdout, again.stdout + again.stderr
    shutil.copy(REFERENCE_DIR / "03_activations.ipynb", submitted / "carol" / ASSIGNMENT_ID)
    changed = subprocess.run(command, env=course.env, capture_output=True, text=True, timeout=600)
    assert "1 graded now, 5 already up to date" in changed.stdout, changed.stdout + changed.stderr


def test_feedback_shows_the_score_the_failures_and_the_curves(course):
    """Each student's feedback.html has the total, the failures' messages and, for alice, her curves."""
    alice = (course.graded / "alice" / "feedback.html").read_text()
    carol = (course.graded / "carol" / "feedback.html").read_text()
    total = course.results("alice")["max_score"]
    assert "data:image/png;base64," in alice and f"{total:g} / {total:g} points" in alice
    assert "not implemented yet" in carol and "data:image/png" not in carol


def test_students_fetch_their_feedback_through_nbgrader(course):
    """After `nbgrader release_feedback`, alice's `nbgrader fetch_feedback` brings one page per notebook."""
    nbgrader(course.root, course.env, "release_feedback", ASSIGNMENT_ID)
    home = course.homes / "alice"
    student_nbgrader(course.root, course.exchange, home, course.env, "fetch_feedback", ASSIGNMENT_ID)
    fetched = sorted(p.name for p in (home / ASSIGNMENT_ID / "feedback").rglob("*.html"))
    assert fetched == [Path(n).with_suffix(".html").name for n in sorted(GRADED_NAMES)]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="acting as another user needs root and setpriv (util-linux)")
def test_another_user_can_read_released_feedback(course):
    """On a shared hub each student is another user: nobody (uid 65534) can read the pages nbgrader released."""
    nbgrader(course.root, course.env, "release_feedback", ASSIGNMENT_ID)
    pages = sorted((course.exchange / COURSE_ID / "feedback").glob("*.html"))
    assert len(pages) >= len(GRADED_NAMES)  # alice's three, and the others'
    for page in pages:
        read = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(page)],
                              capture_output=True, text=True, timeout=60)
        assert read.returncode == 0 and "Feedback on pytorch_nn" in read.stdout, (page, read.stderr)


def test_nbgrader_autograde_gives_each_part_the_class_runs_score(course):
    """Plain `nbgrader autograde` of bob runs the grade cells and stores the same part scores as grade-all."""
    nbgrader(course.root, course.env, "autograde", ASSIGNMENT_ID, "--student=bob", "--force")
    with Gradebook(course.db_url) as gradebook:
        stored = {
            title: gradebook.find_grade(part.grade_cell, Path(part.notebook).stem, ASSIGNMENT_ID, "bob").score
            for title, part in PARTS.items()
        }
    assert stored == {title: float(course.grades()["bob"][title]) for title in PARTS}
