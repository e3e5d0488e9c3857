"""The student bundle: the released notebooks, the autograder and a README, without a line of the answers.

The slow test is a student's first hour: unzip the bundle in a new folder, make a new virtual
environment, install as the bundle's README says, and run ``pytest autograder/``.
"""

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, REFERENCE_DIR, RELEASE_DIR
from autograder.instructor.student_bundle import build_student_bundle
from tests.test_release import solution_cells, solution_lines

TORCH_VERSION = importlib.metadata.version("torch")
# Solution lines that the graded suite itself must contain, word for word, to exercise students'
# code: each gives nothing away. Any other solution line found in the bundle is a leak.
GENERIC_LINES = {"with torch.no_grad():", "return model", "p.grad.zero_()"}


def every_solution_line() -> set[str]:
    """Every non-blank line between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in solutions/, stripped."""
    return {line for notebook in GRADED_NAMES for cell in solution_cells(REFERENCE_DIR / notebook)
            for line in solution_lines(cell.source)}


def lines_of(path: Path) -> set[str]:
    """The stripped lines of a file; for a notebook, of its cells' sources (as an editor shows them)."""
    if path.suffix == ".ipynb":
        return {line.strip() for cell in nbformat.read(path, as_version=4).cells for line in cell.source.splitlines()}
    return {line.strip() for line in path.read_text().splitlines()}


@pytest.fixture(scope="module")
def bundle_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``student-bundle --out x.zip``, unzipped in a new folder: the folder students work in."""
    root = tmp_path_factory.mktemp("student")
    build_student_bundle(root / "pytorch_nn_student.zip")
    with zipfile.ZipFile(root / "pytorch_nn_student.zip") as archive:
        archive.extractall(root / "unzipped")
    return root / "unzipped" / "pytorch_nn_student"


def test_the_bundle_holds_the_notebooks_the_package_and_a_readme(bundle_folder: Path) -> None:
    """At the top: README.md, pyproject.toml, autograder/ and assignments/, and the three released notebooks."""
    assert sorted(p.name for p in bundle_folder.iterdir()) == ["README.md", "assignments", "autograder", "pyproject.toml"]
    assert sorted(p.name for p in (bundle_folder / "assignments" / ASSIGNMENT_ID).iterdir()) == sorted(GRADED_NAMES)


def test_the_bundle_holds_nothing_but_code_notebooks_and_the_readme(bundle_folder: Path) -> None:
    """Every file is the package's code, a released notebook, README.md or pyproject.toml: no reference notebook,
    no reply cache, no hypothesis database, no bytecode."""
    def expected(path: str) -> bool:
        return (path in ("README.md", "pyproject.toml")
                or (path.startswith("autograder/") and path.endswith((".py", ".sh")) and "__pycache__" not in path)
                or (path.startswith(f"assignments/{ASSIGNMENT_ID}/") and path.endswith(".ipynb")))

    files = [p.relative_to(bundle_folder).as_posix() for p in bundle_folder.rglob("*") if p.is_file()]
    assert len(files) > 10 and not [path for path in files if not expected(path)]


def test_the_bundle_holds_no_solution_line(bundle_folder: Path) -> None:
    """No line of any reference solution appears in any file of the bundle, but the few generic ones the suite needs
    and those the released notebooks show outside the answer (``model = Model(...)`` in a demonstration cell)."""
    shown = set().union(*(lines_of(RELEASE_DIR / notebook) for notebook in GRADED_NAMES))
    solutions = every_solution_line() - GENERIC_LINES - shown
    leaked = {p.relative_to(bundle_folder).as_posix(): sorted(lines_of(p) & solutions)
              for p in bundle_folder.rglob("*") if p.is_file()}
    assert len(solutions) > 40 and not {path: lines for path, lines in leaked.items() if lines}


def test_the_bundles_notebooks_are_the_released_ones(bundle_folder: Path) -> None:
    """Each notebook in the bundle is byte for byte the one in assignments/ (which test_release checks for answers)."""
    for notebook in GRADED_NAMES:
        assert (bundle_folder / "assignments" / ASSIGNMENT_ID / notebook).read_bytes() == (RELEASE_DIR / notebook).read_bytes()


def test_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    """Building into a folder that already holds something raises instead of mixing two bundles."""
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build_student_bundle(tmp_path)


@pytest.mark.slow
def test_a_student_installs_the_bundle_in_a_new_environment_and_runs_the_checks(bundle_folder: Path,
                                                                                 tmp_path: Path) -> None:
    """In a new virtual environment (torch, then `pip install -e .`), `pytest autograder/` grades the stubs: zero points,
    every part in the table, and the reference checks "not checked here"."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # torch first, as the README says, and the very build this environment has ("2.13.0+cpu"), so a
    # CPU build stays one instead of several GB of CUDA. pip finds it where this environment's came
    # from (here PIP_FIND_LINKS; in CI, PyTorch's CPU index through PIP_EXTRA_INDEX_URL).
    for args in ([f"torch=={TORCH_VERSION}"], ["-e", "."]):
        install = subprocess.run(pip + args, cwd=bundle_folder, capture_output=True, text=True, timeout=900)
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    # A student's own home: no reply cache of an instructor's, no configuration of ours.
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "autograder/"], cwd=bundle_folder, env=env,
                         capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "when your instructor grades" in output and "is not implemented yet" in output, output[-3000:]
    table = output[output.rindex("Part 1: linear regression"):]
    assert all(part in table for part in ("Part 2: the Iris MLP", "Part 3: activation functions", "Total")), table
    assert f"rootdir: {bundle_folder}" in output, "the bundle's own copy of the package should grade"
