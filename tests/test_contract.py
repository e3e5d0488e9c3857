"""The reference notebooks define the graded API, in nbgrader solution cells, with its parameters."""

import ast
import inspect

import nbformat
import pytest

from autograder.contract import GRADED_NAMES, NOTEBOOK_OF, PARTS, REFERENCE_DIR
from autograder.boundary.notebook import Submission, read_submission


@pytest.fixture(scope="module")
def reference() -> Submission:
    """The reference notebooks, loaded as the grader loads them."""
    return Submission(read_submission(REFERENCE_DIR, "contract_reference"), "contract_reference")


def defining_cells(notebook: str) -> dict[str, dict]:
    """Each top-level def or class name of ``notebook`` -> the nbgrader metadata of its cell."""
    cells = {}
    for cell in nbformat.read(REFERENCE_DIR / notebook, as_version=4).cells:
        if cell.cell_type == "code":
            for statement in ast.parse(cell.source).body:
                if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                    cells[statement.name] = cell.metadata.get("nbgrader", {})
    return cells


@pytest.mark.parametrize("name", sorted(NOTEBOOK_OF))
def test_graded_name_has_the_contracts_parameters(reference, name):
    """The reference defines the graded name with exactly the parameters the contract lists."""
    value = getattr(reference, name)
    signature = inspect.signature(value.__init__ if inspect.isclass(value) else value)
    parameters = tuple(p for p in signature.parameters if p != "self")
    assert parameters == GRADED_NAMES[NOTEBOOK_OF[name]][name]


@pytest.mark.parametrize("name", sorted(NOTEBOOK_OF))
def test_graded_name_is_defined_in_a_solution_cell(name):
    """Each graded name is defined in a cell nbgrader treats as a solution cell."""
    metadata = defining_cells(NOTEBOOK_OF[name]).get(name)
    assert metadata is not None, f"{name} is not defined in {NOTEBOOK_OF[name]}"
    assert metadata.get("solution") is True, f"{name}'s cell is not an nbgrader solution cell"


def grade_cell(directory, title: str) -> nbformat.NotebookNode | None:
    """The cell of ``PARTS[title]``'s grade_id in its notebook under ``directory``, if any."""
    part = PARTS[title]
    cells = nbformat.read(directory / part.notebook, as_version=4).cells
    return next((c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == part.grade_cell), None)
