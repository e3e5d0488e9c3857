"""A temporary nbgrader course run with nbgrader's real commands: release, fetch, submit, collect, autograde, grade-all.

Eight students are on the gradebook's roster: alice (correct), bob (partial, late, and he rewrites
his timestamp.txt in the exchange to 2000-01-01 before collect), carol (untouched stubs), dave
(malformed: unreadable JSON, a syntax error, a renamed function, another assignment's notebook),
erin (hostile: tries to kill the grader), grace (submitted an empty folder), frank (registered,
submitted nothing) and pat (stubs and the reference's Part 3, a cell at the top of each notebook
that replaces what the check cells call, and a ``model`` whose error is a terminal's escape
sequences). Three more submit under ids of their own making, no student of the class: two
spreadsheet formulas and a terminal's escape sequences. ``nbgrader autograde`` of pat runs once
before grade-all.
"""

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, REFERENCE_DIR, RELEASE_DIR
from tests.test_hostile_submissions import ATTACKS, hostile_submission

COURSE_ID = "nn101"
STUDENTS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "pat"]
ON_TIME = ["alice", "carol", "dave", "erin", "grace", "pat"]
HOSTILE_IDS = ['=HYPERLINK("evil.example","grades")', "@SUM(A1:A9)", "\x1b]0;owned\x07\x1b[2J"]
FORGED_TIME = "2000-01-01 00:00:00.000000 UTC"
# pat's first cell: what each check cell calls now returns 1000, which a code grade cell's score would be.
PATCH = "import autograder.cell\nautograder.cell.grade_part = lambda title, folder=None: 1000.0"
ESCAPES = "\x1b]0;owned\x07\x1b[2J"
PATS_MODEL = f'def model(xb, weight, bias):\n    raise ValueError("{ESCAPES.encode("unicode_escape").decode()}")'


@dataclass
class Course:
    """A temporary nbgrader course after release, submission, collection, an autograde and a class grading run."""

    root: Path
    exchange: Path
    homes: Path
    graded: Path
    grade_all: subprocess.CompletedProcess
    env: dict[str, str]
    due: datetime
    before_grade_all: dict[str, float]  # pat's part scores in the gradebook after the first autograde

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


def nbgrader(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run one real nbgrader command; fail with its output if it fails."""
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


def student_nbgrader(exchange: Path, home: Path, env: dict[str, str], *args: str, student: str | None = None) -> None:
    """An nbgrader command as a student runs it, in their own folder with their own cache; as ``home.name`` unless
    ``student`` says otherwise."""
    nbgrader(home, env, *args, f"--course={COURSE_ID}", f"--student={student or home.name}",
             f"--Exchange.root={exchange}", f"--Exchange.cache={home / '.nbgrader_cache'}")


def part_scores(db_url: str, student: str) -> dict[str, float]:
    """The student's score of each part's cell in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        return {title: gradebook.find_grade(part.grade_cell, Path(part.notebook).stem, ASSIGNMENT_ID, student).score
                for title, part in PARTS.items()}


def with_cell(path: Path, source: str, last: bool = False) -> None:
    """Put a code cell holding ``source`` after the notebook's first code cell (its imports), or at its end."""
    notebook = nbformat.read(path, as_version=4)
    first = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells.insert(len(notebook.cells) if last else first + 1, new_code_cell(source))
    nbformat.write(notebook, path)


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
    elif student == "pat":
        shutil.copy(REFERENCE_DIR / "03_activations.ipynb", folder / "03_activations.ipynb")
        for notebook in GRADED_NAMES:
            with_cell(folder / notebook, PATCH)
        with_cell(folder / "01_linear_regression.ipynb", PATS_MODEL, last=True)  # the last binding is the one run


def build_course(tmp: Path, env: dict[str, str]) -> Course:
    """Release, fetch, fill in, submit (bob after the due date, then rewriting his time), collect, autograde pat,
    then grade the class with the gradebook."""
    root, homes = tmp / "course", tmp / "home"
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
    for number, student in enumerate(HOSTILE_IDS):  # the released stubs, under an id of their own making
        home = homes / f"hostile{number}"
        shutil.copytree(RELEASE_DIR, home / ASSIGNMENT_ID)
        student_nbgrader(exchange, home, env, "submit", ASSIGNMENT_ID, student=student)
    for student in [*ON_TIME, "bob"]:
        if student == "bob":  # the due date passes before bob submits
            due = datetime.now(timezone.utc)
            nbgrader(root, env, "db", "assignment", "add", ASSIGNMENT_ID,
                     f"--duedate={due.strftime('%Y-%m-%d %H:%M:%S.%f UTC')}")
        home = homes / student
        home.mkdir(parents=True)
        student_nbgrader(exchange, home, env, "fetch_assignment", ASSIGNMENT_ID)
        fill_in(student, home / ASSIGNMENT_ID)
        student_nbgrader(exchange, home, env, "submit", ASSIGNMENT_ID)
    for folder in (exchange / COURSE_ID / "inbound").glob(f"bob+{ASSIGNMENT_ID}+*"):
        (folder / "timestamp.txt").write_text(FORGED_TIME)  # bob owns the folder until collect
    nbgrader(root, env, "collect", ASSIGNMENT_ID)
    nbgrader(root, env, "autograde", ASSIGNMENT_ID, "--student=pat")
    before = part_scores(f"sqlite:///{root / 'gradebook.db'}", "pat")
    graded = tmp / "graded"
    grade_all = subprocess.run(
        [sys.executable, "-m", "autograder", "grade-all", "submitted", "--out", str(graded), "--jobs", "2",
         "--gradebook", f"sqlite:///{root / 'gradebook.db'}", "--feedback", "feedback"],
        cwd=root, env=env, capture_output=True, text=True, timeout=1200,
    )
    return Course(root, exchange, homes, graded, grade_all, env, due, before)
