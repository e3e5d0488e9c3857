"""Each part's points sit on a locked task cell that nbgrader autograde never scores; the code cell below it only checks.

A code grade cell is scored by ``nbgrader autograde`` from what it outputs in the kernel where the
student's own cells ran first (tests/test_instructor_loop.py shows a patching cell cannot reach the
gradebook now). These read the notebooks: fast.
"""

import nbformat
import pytest

from autograder.contract import GRADED_NAMES, PARTS, REFERENCE_DIR, RELEASE_DIR

DIRECTORIES = pytest.mark.parametrize("directory", [REFERENCE_DIR, RELEASE_DIR], ids=["reference", "release"])


def cells(directory, notebook: str) -> list[nbformat.NotebookNode]:
    """The cells of ``notebook`` in ``directory``."""
    return nbformat.read(directory / notebook, as_version=4).cells


def part_cell(directory, title: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode | None]:
    """The cell holding the part's grade_id in its notebook, and the cell after it."""
    part = PARTS[title]
    found = cells(directory, part.notebook)
    place = next(i for i, c in enumerate(found) if c.metadata.get("nbgrader", {}).get("grade_id") == part.grade_cell)
    return found[place], found[place + 1] if place + 1 < len(found) else None


@DIRECTORIES
@pytest.mark.parametrize("notebook", sorted(GRADED_NAMES))
def test_no_cell_is_a_grade_cell_scored_from_the_kernel(directory, notebook: str) -> None:
    """No code cell of the notebooks is an nbgrader grade cell, whose score autograde would read from its output."""
    graded = [c.source[:40] for c in cells(directory, notebook)
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert graded == []


@DIRECTORIES
@pytest.mark.parametrize("title", sorted(PARTS))
def test_each_parts_points_sit_on_a_locked_task_cell(directory, title: str) -> None:
    """The part's grade_id names a locked markdown task cell with points, which says how many."""
    cell, _ = part_cell(directory, title)
    nbgrader = cell.metadata["nbgrader"]
    assert cell.cell_type == "markdown" and nbgrader["task"] is True and nbgrader["locked"] is True
    assert nbgrader["grade"] is False and nbgrader["points"] > 0
    assert f"({nbgrader['points']:g} points)" in cell.source.splitlines()[0]


@DIRECTORIES
@pytest.mark.parametrize("title", sorted(PARTS))
def test_below_each_task_cell_a_locked_code_cell_checks_its_part(directory, title: str) -> None:
    """The cell after the part's task cell is a locked, read-only code cell that runs the part's checks."""
    _, below = part_cell(directory, title)
    nbgrader = below.metadata["nbgrader"]
    assert below.cell_type == "code" and nbgrader["locked"] is True and nbgrader["grade"] is False
    assert f'grade_part("{title}")' in below.source
