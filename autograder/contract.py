"""The graded API: which notebook must define which names, and where the notebooks live."""

from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT_ID = "pytorch_nn"

REPO_ROOT = Path(__file__).resolve().parent.parent
RELEASE_DIR = REPO_ROOT / "assignments" / ASSIGNMENT_ID
REFERENCE_DIR = REPO_ROOT / "solutions" / ASSIGNMENT_ID

# Notebook file name -> the top-level names it must define, with their parameters.
GRADED_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "01_linear_regression.ipynb": {
        "model": ("xb", "weight", "bias"),
        "loss_fn": ("input", "target"),
        "sgd_step": ("params", "learning_rate"),
        "train_linear_regression": ("train_dl", "weight", "bias", "learning_rate", "num_epochs"),
        "train_nn_regression": ("model", "loss_fn", "optimizer", "train_dl", "num_epochs"),
    },
    "02_iris_mlp.ipynb": {
        "Model": ("input_size", "hidden_size", "output_size"),
        "train_mlp": ("model", "train_dl", "loss_fn", "optimizer", "num_epochs"),
        "accuracy": ("model", "X", "y"),
        "save_model": ("model", "path"),
        "load_model": ("path",),
        "save_parameters": ("model", "path"),
        "load_parameters": ("path", "input_size", "hidden_size", "output_size"),
    },
    "03_activations.ipynb": {
        "sigmoid": ("z",),
        "tanh": ("z",),
        "softmax": ("z", "dim"),
        "relu": ("z",),
    },
}

# Graded on how they are written as well as on what they return (Part 3: from elementary operations).
# The grader judges each from the notebook's source, and checks each in a worker in which no other
# graded function runs, so that no other code of the submission can change what it calls.
FROM_SCRATCH = ("sigmoid", "tanh", "softmax", "relu")

NOTEBOOK_OF: dict[str, str] = {
    name: notebook for notebook, names in GRADED_NAMES.items() for name in names
}


@dataclass(frozen=True)
class Part:
    """One part of the assignment: the notebook it grades and the nbgrader grade cell holding its points."""

    title: str  # as the score table prints it, and as each test module's ``pytest.mark.part`` names it
    notebook: str
    grade_cell: str  # the grade_id of the part's locked grade cell in that notebook


PARTS: dict[str, Part] = {
    part.title: part
    for part in (
        Part("Part 1: linear regression", "01_linear_regression.ipynb", "checks_linear_regression"),
        Part("Part 2: the Iris MLP", "02_iris_mlp.ipynb", "checks_iris_mlp"),
        Part("Part 2: saving and loading", "02_iris_mlp.ipynb", "checks_saving_and_loading"),
        Part("Part 3: activation functions", "03_activations.ipynb", "checks_activations"),
    )
}


def parts_of(notebook: str) -> list[str]:
    """The titles of the parts graded from ``notebook``, in order."""
    return [title for title, part in PARTS.items() if part.notebook == notebook]

# The modules of the grader's scenarios (probes) that graded tests run in a worker, by name:
# a worker imports them before it loads any notebook (see autograder/boundary/worker.py).
PROBE_MODULES = ("autograder.suite.probes",)
