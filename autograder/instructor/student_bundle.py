"""What a student receives where the course does not use nbgrader's exchange: a folder or a zip, with no answers.

It holds the released notebooks (``assignments/<id>/``), the whole ``autograder`` package with the
``pyproject.toml`` that installs it, and a README for students. Nothing of ``solutions/`` and no
reference replies: the files are listed one by one, never copied as a tree, so nothing new in the
repository slips in. The layout is the repository's own, because the package finds the notebooks
relative to itself (``contract.RELEASE_DIR``): ``pytest autograder/`` from the bundle's root grades
``assignments/<id>/``, and the checks against the reference are left for the instructor's grading.
"""

import shutil
import zipfile
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, PARTS, RELEASE_DIR, REPO_ROOT
from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR

README = """\
# Building a neural network in PyTorch

Fill in the stubs in the three notebooks in `assignments/{assignment}/`, then check your work
with the autograder that grades it. Nothing here contains the answers.

| notebook | what you write |
| --- | --- |
| `01_linear_regression.ipynb` | `model`, `loss_fn`, `sgd_step`, `train_linear_regression`, `train_nn_regression` |
| `02_iris_mlp.ipynb` | `Model`, `train_mlp`, `accuracy`, `save_model` / `load_model`, `save_parameters` / `load_parameters` |
| `03_activations.ipynb` | `sigmoid`, `tanh`, `softmax`, `relu`, from scratch |

## Set-up

Once, in this folder (Python 3.10 or newer):

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install torch --index-url https://download.pytorch.org/whl/cpu   # optional: PyTorch without CUDA, far smaller
pip install -e .
```

This installs PyTorch, Jupyter and the autograder. Keep the folder's layout as it is: the
autograder finds the notebooks in `assignments/{assignment}/`.

## Work

Open the notebooks with `jupyter lab` (with the virtual environment active). Replace each
`raise NotImplementedError()` with your code; keep the function names and parameters, since
the autograder calls them. Your experiments (training runs, plots, prints) never run during
grading, so leave them in.

## Check your work

In Jupyter, the locked cell at the end of each part grades that part: save the notebook, run
the cell, and it prints the part's failed checks and shows its score.

From a terminal, in this folder:

```bash
pytest autograder/
```

Each check that fails says what it expected, what it got, and for property checks the smallest
input that shows the problem. The run ends with your score for each part ({parts}).
The points "checked here" are all your machine can check; the rest compare your functions with
the reference solutions, which only your instructor has, and are checked when your work is
graded. To check one notebook only, again each time you save it:
`python -m autograder check assignments/{assignment}/03_activations.ipynb --watch`.

## Hand in

The three notebooks from `assignments/{assignment}/`, with their names unchanged, as your
instructor tells you.
"""


def student_readme() -> str:
    """The student README, for this assignment and its parts."""
    return README.format(assignment=ASSIGNMENT_ID, parts="; ".join(PARTS))


def bundle_files() -> dict[str, Path]:
    """Name in the bundle -> file on disk: the package, what installs it, the released notebooks."""
    files = {f"autograder/{path.relative_to(PACKAGE_DIR).as_posix()}": path for path in GRADER_FILES}
    files["pyproject.toml"] = REPO_ROOT / "pyproject.toml"
    files.update({f"assignments/{ASSIGNMENT_ID}/{path.name}": path for path in sorted(RELEASE_DIR.glob("*.ipynb"))})
    return files


def build_student_bundle(out: Path) -> None:
    """Write the bundle to ``out``: a zip (one folder named after it inside) if it ends in ``.zip``, else a folder.

    Raises FileExistsError where ``out`` is a folder that is not empty, rather than mixing bundles.
    """
    files = bundle_files()
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(f"{out.stem}/README.md", student_readme())
            for name, path in files.items():
                bundle.write(path, f"{out.stem}/{name}")
        return
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(student_readme())
    for name, path in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / name)
