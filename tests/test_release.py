"""assignments/ is exactly what nbgrader makes of solutions/, and holds no solution."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, REFERENCE_DIR, RELEASE_DIR, REPO_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_cells(path: Path) -> list[nbformat.NotebookNode]:
    """The cells nbgrader treats as solution cells, in order."""
    notebook = nbformat.read(path, as_version=4)
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]


def solution_lines(source: str) -> list[str]:
    """The non-blank lines between the solution markers of one cell, stripped."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.mark.slow
def test_release_is_what_nbgrader_generates(tmp_path, tool_env):
    """Running nbgrader generate_assignment on solutions/ reproduces assignments/ exactly."""
    course = tmp_path / "course"
    shutil.copytree(REFERENCE_DIR, course / "solutions" / ASSIGNMENT_ID)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course)
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT_ID, "--no-db"],
        cwd=course, env=tool_env, check=True, capture_output=True,
    )
    generated = course / "assignments" / ASSIGNMENT_ID
    assert sorted(p.name for p in generated.iterdir()) == sorted(p.name for p in RELEASE_DIR.iterdir())
    for path in generated.iterdir():
        assert json.loads(path.read_text()) == json.loads((RELEASE_DIR / path.name).read_text()), (
            f"assignments/{ASSIGNMENT_ID}/{path.name} differs from what nbgrader generates: "
            f"run `nbgrader generate_assignment {ASSIGNMENT_ID} --force` and commit the result."
        )


def test_every_graded_notebook_is_released():
    """Each notebook of the graded API exists in both solutions/ and assignments/."""
    for notebook in GRADED_NAMES:
        assert (REFERENCE_DIR / notebook).is_file() and (RELEASE_DIR / notebook).is_file(), notebook


@pytest.mark.parametrize("notebook", sorted(GRADED_NAMES))
def test_release_has_no_solution_markers(notebook):
    """No solution marker survives into the student notebooks."""
    text = (RELEASE_DIR / notebook).read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


@pytest.mark.parametrize("notebook", sorted(GRADED_NAMES))
def test_release_has_no_solution_lines(notebook):
    """No line of a reference solution appears in the matching student cell."""
    reference_cells = solution_cells(REFERENCE_DIR / notebook)
    release_cells = solution_cells(RELEASE_DIR / notebook)
    assert len(reference_cells) == len(release_cells)
    for reference, release in zip(reference_cells, release_cells):
        released_lines = {line.strip() for line in release.source.splitlines()}
        leaked = [line for line in solution_lines(reference.source) if line in released_lines]
        assert not leaked, f"{notebook}, cell {reference.metadata.nbgrader.grade_id}: {leaked}"
