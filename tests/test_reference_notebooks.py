"""Every reference notebook runs top to bottom and prints the lecture's numbers."""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.contract import GRADED_NAMES, PARTS, REFERENCE_DIR
from autograder.reports.feedback import points

pytestmark = pytest.mark.slow

# What each notebook must print when run: the lecture's published results.
LECTURE_OUTPUTS = {
    "01_linear_regression.ipynb": [
        "Final parameters: 2.6696107387542725 4.879678249359131",
        "Final parameters: 2.6496422290802 4.87706995010376",
    ],
    "02_iris_mlp.ipynb": [
        "Test accuracy: 0.9800",
        "Test accuracy, whole model reloaded: 0.9800",
        "Test accuracy, parameters reloaded: 0.9800",
    ],
    "03_activations.ipynb": ["P(y = 1 | x) = 0.888"],
}


def stream_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook's cells printed."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if output.output_type == "stream"
    )


@pytest.fixture(scope="module", params=sorted(GRADED_NAMES))
def executed(request, tmp_path_factory) -> tuple[str, nbformat.NotebookNode]:
    """A reference notebook run top to bottom, alone in a folder, as a student runs it."""
    folder = tmp_path_factory.mktemp("executed")
    path = shutil.copy(REFERENCE_DIR / request.param, folder)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(folder)}}).execute()
    return request.param, notebook


def test_reference_notebook_runs_and_prints_the_lectures_numbers(executed):
    """The reference notebook executes without error and prints the lecture's results."""
    name, notebook = executed
    printed = stream_text(notebook)
    for expected in LECTURE_OUTPUTS[name]:
        assert expected in printed, printed


def test_each_check_cell_prints_full_marks_and_nothing_on_stderr(executed):
    """Run in the notebook, the code cell below each part's task cell prints the part's full points first, shows no
    value a reader could take for a grade, and writes no stderr."""
    name, notebook = executed
    for title, part in PARTS.items():
        if part.notebook != name:
            continue
        place = next(i for i, c in enumerate(notebook.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == part.grade_cell)
        full = notebook.cells[place].metadata["nbgrader"]["points"]
        outputs = notebook.cells[place + 1].outputs
        assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"], outputs
        assert not [o for o in outputs if o.output_type == "execute_result"], outputs
        printed = "".join(o.text for o in outputs if o.output_type == "stream")
        assert printed.splitlines()[0] == f"{title}: {points(full, full)}", printed
