"""No line of the reference's answers ships to students: not in the checks' hints, the package, or the students' page.

An answer line is a line of code between the solution markers of a reference notebook that neither the
lecture nor the released notebooks already show (in code or in words) (``optimizer.zero_grad()`` is the lecture's; ``p -= ...``
with its right-hand side is the answer), and long enough to be one (``return model`` is anyone's).
"""

import json
from pathlib import Path

import pytest

from autograder.contract import REFERENCE_DIR, RELEASE_DIR, REPO_ROOT
from autograder.instructor.student_bundle import build_student_bundle

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LECTURE = REPO_ROOT.parent / "shared" / "seed" / "000_862213244ebfc7b8.txt"
SHORTEST_ANSWER = 20  # characters: a line shorter than this is an idiom every solution shares


def code_lines(notebook: Path) -> set[str]:
    """The stripped lines between the solution markers of a notebook's cells."""
    lines, inside = set(), False
    for cell in json.loads(notebook.read_text())["cells"]:
        for line in "".join(cell["source"]).splitlines():
            stripped = line.strip()
            if stripped in (BEGIN, END):
                inside = stripped == BEGIN
            elif stripped and inside:
                lines.add(stripped)
    return lines


def answer_lines() -> set[str]:
    """The reference's answer lines (see the module's docstring)."""
    given = "\n".join(path.read_text() for path in RELEASE_DIR.glob("*.ipynb"))
    lecture = LECTURE.read_text() if LECTURE.is_file() else ""
    answers = set().union(*(code_lines(path) for path in REFERENCE_DIR.glob("*.ipynb")))
    return {line for line in answers if len(line) >= SHORTEST_ANSWER and not line.startswith("#")
            and line not in given and line not in lecture}


def test_there_are_answer_lines_to_look_for():
    """The reference holds answer lines by this measure, so the next test looks for something."""
    assert len(answer_lines()) >= 10


@pytest.fixture(scope="module")
def bundle_texts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every file of a student bundle built now, by its name in the bundle, as text."""
    bundle = tmp_path_factory.mktemp("bundle") / "student"
    build_student_bundle(bundle)
    return {str(path.relative_to(bundle)): path.read_text(errors="replace") for path in bundle.rglob("*") if path.is_file()}


@pytest.mark.parametrize("answer", sorted(answer_lines()))
def test_no_file_of_the_student_bundle_holds_the_answer_line(answer, bundle_texts):
    """The student bundle (package, students' page, released notebooks) holds no answer line anywhere."""
    holding = [name for name, text in bundle_texts.items() if answer in text]
    assert not holding, f"{answer!r} is in {holding}"
