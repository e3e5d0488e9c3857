"""Every reference notebook runs top to bottom and prints the lecture's numbers."""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.contract import GRADED_NAMES, REFERENCE_DIR

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


@pytest.mark.parametrize("name", sorted(GRADED_NAMES))
def test_reference_notebook_runs_and_prints_the_lectures_numbers(name, tmp_path):
    """The reference notebook executes without error and prints the lecture's results."""
    path = shutil.copy(REFERENCE_DIR / name, tmp_path)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = stream_text(notebook)
    for expected in LECTURE_OUTPUTS[name]:
        assert expected in printed, printed
