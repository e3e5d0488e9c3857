"""The student bundle: the released notebooks, the autograder and a README, without a line of the answers.

The slow tests are a student's first hour: unzip the bundle in a new folder, follow its README's set-up line by
line in a new virtual environment (one for all of them: each costs a minute), start JupyterLab, and run
``pytest autograder/``.
"""

import importlib.metadata
import json
import os
import re
import secrets
import shlex
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, REFERENCE_DIR, RELEASE_DIR
from autograder.instructor.student_bundle import STUDENTS_PAGE, build_student_bundle
from tests.test_release import solution_cells, solution_lines

TORCH_VERSION = importlib.metadata.version("torch")
# Solution lines that the graded suite itself must contain, word for word, to exercise students'
# code: each gives nothing away. Any other solution line found in the bundle is a leak.
GENERIC_LINES = {"with torch.no_grad():", "return model", "p.grad.zero_()"}
# How long JupyterLab may take to answer its first request (about 3 s here).
JUPYTER_START_SECONDS = 120


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


def test_the_bundles_readme_is_the_students_page(bundle_folder: Path) -> None:
    """The bundle's README.md is docs/students.md, byte for byte: students read one text wherever they find it."""
    assert (bundle_folder / "README.md").read_bytes() == STUDENTS_PAGE.read_bytes()


def test_every_file_of_the_zip_is_readable_by_everyone(bundle_folder: Path) -> None:
    """Every file of the zip, README.md included, unpacks with mode 0644: a course's TAs and a shared hub read it."""
    with zipfile.ZipFile(bundle_folder.parent.parent / "pytorch_nn_student.zip") as archive:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
    assert modes[f"{bundle_folder.name}/README.md"] == 0o644
    assert {name: oct(mode) for name, mode in modes.items() if mode != 0o644} == {}


def test_a_bundle_folders_files_are_readable_by_everyone(tmp_path: Path) -> None:
    """Built as a folder, every file of the bundle has mode 0644, whatever the umask of the instructor's shell."""
    umask = os.umask(0o077)
    try:
        build_student_bundle(tmp_path / "bundle")
    finally:
        os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "bundle").rglob("*") if p.is_file()}
    assert modes["README.md"] == 0o644 and {name for name, mode in modes.items() if mode != 0o644} == set()


def test_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    """Building into a folder that already holds something raises instead of mixing two bundles."""
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build_student_bundle(tmp_path)


def setup_lines(readme: str) -> list[str]:
    """The commands of the README's set-up: the first ``bash`` block under "## Set-up", without comments."""
    section = readme[readme.index("## Set-up"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)[1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def student_environment(bundle_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The bundle's README's set-up, followed line by line in a new virtual environment (but `jupyter lab`, which a
    test starts): the environment, and the environment variables of a student's shell in it."""
    venv = tmp_path_factory.mktemp("student-venv") / "venv"  # outside the bundle, whose files other tests list
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    lines = setup_lines((bundle_folder / "README.md").read_text())
    assert lines[-1] == "jupyter lab", lines  # started, headless, by the test below
    for line in lines[:-1]:
        if line == "python3 -m venv .venv && . .venv/bin/activate":
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            continue
        assert line.startswith("pip install "), f"the README's set-up has a step this test does not take: {line}"
        args = shlex.split(line)[2:]
        if "torch" in args:
            # The very build this environment has ("2.13.0+cpu"), which pip finds where this environment's came from
            # (here PIP_FIND_LINKS; in CI, PyTorch's CPU index through PIP_EXTRA_INDEX_URL), not the newest on the
            # index the README names, which this machine cannot reach.
            args = [f"torch=={TORCH_VERSION}"]
        install = subprocess.run(pip + args, cwd=bundle_folder, capture_output=True, text=True, timeout=900)
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    # A student's own home: no reply cache of an instructor's, no configuration of ours.
    env = {**os.environ, "HOME": str(tmp_path_factory.mktemp("home")),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    return venv, env


@pytest.fixture(scope="module")
def stubs_checked(bundle_folder: Path, student_environment: tuple[Path, dict[str, str]]) -> subprocess.CompletedProcess:
    """`pytest autograder/` in the bundle, from the student's environment: the untouched stubs, checked."""
    venv, env = student_environment
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "autograder/"], cwd=bundle_folder, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture
def jupyter_lab(bundle_folder: Path, student_environment: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """`jupyter lab` as the README's last set-up line starts it, but headless, on a free port of 127.0.0.1, with a
    token of this test's (and as root where the test runs as root, which JupyterLab otherwise refuses): its URL and
    token, as ``http://127.0.0.1:PORT/?token=TOKEN``. Stopped at the end."""
    venv, env = student_environment
    port, token = free_port(), secrets.token_hex(16)
    command = [str(venv / "bin" / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", *(["--allow-root"] if os.geteuid() == 0 else [])]
    server = subprocess.Popen(command, cwd=bundle_folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        yield f"http://127.0.0.1:{port}/?token={token}"
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def api(url: str, endpoint: str) -> dict | None:
    """The JSON a Jupyter server at ``url`` (with its token) answers at ``endpoint``, or None while it does not."""
    base, token = url.split("/?token=")
    try:
        with urllib.request.urlopen(f"{base}{endpoint}?token={token}", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.slow
def test_jupyter_lab_starts_from_the_readmes_set_up_and_answers(jupyter_lab: str) -> None:
    """After the README's set-up, `jupyter lab` starts a server that answers over HTTP on 127.0.0.1, with a Python
    kernel to run the notebooks."""
    deadline = time.monotonic() + JUPYTER_START_SECONDS
    while (status := api(jupyter_lab, "/api/status")) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status is not None and "started" in status, "JupyterLab did not answer"
    assert "python3" in api(jupyter_lab, "/api/kernelspecs")["kernelspecs"]


@pytest.mark.slow
def test_a_student_installs_the_bundle_in_a_new_environment_and_runs_the_checks(
        bundle_folder: Path, stubs_checked: subprocess.CompletedProcess) -> None:
    """In the environment the README's set-up makes, `pytest autograder/` grades the stubs: zero points, every part in
    the table, and the reference checks "not checked here"."""
    output = stubs_checked.stdout + stubs_checked.stderr
    assert stubs_checked.returncode == 1, output[-3000:]
    assert "when your instructor grades" in output and "is not implemented yet" in output, output[-3000:]
    table = output[output.rindex("Part 1: linear regression"):]
    assert all(part in table for part in ("Part 2: the Iris MLP", "Part 3: activation functions", "Total")), table
    assert f"score for {bundle_folder}" in output, "the bundle's own copy of the package should grade its notebooks"


def without_timing(output: str) -> list[str]:
    """A grading's output without the line that says how long it took ("63 failed, 13 skipped in 3.1s")."""
    return [line for line in output.splitlines() if not re.search(r" in [\d.]+s$", line)]


@pytest.mark.slow
def test_pytest_autograder_prints_what_check_prints_and_no_pytest_header(
        bundle_folder: Path, student_environment: tuple[Path, dict[str, str]], stubs_checked: subprocess.CompletedProcess
) -> None:
    """Run again (through the warm checker the first run started), `pytest autograder/` prints the feedback and the
    score, line for line what `python -m autograder check` prints of the same folder, and none of pytest's header,
    "collected" line or rows of letters."""
    venv, env = student_environment
    again, check = (subprocess.run([str(venv / "bin" / "python"), "-m", *command], cwd=bundle_folder, env=env,
                                   capture_output=True, text=True, timeout=900)
                    for command in (["pytest", "autograder/"], ["autograder", "check", "assignments/pytorch_nn"]))
    for run in (stubs_checked, again):
        assert not re.search(r"test session starts|^rootdir:|^collected|^autograder/suite/\S+ [.FsE]+", run.stdout,
                             flags=re.MULTILINE), run.stdout[:2000]
    assert without_timing(again.stdout) == without_timing(check.stdout) and again.returncode == check.returncode == 1


def number_free(line: str) -> str:
    """``line`` with every number as N and its runs of spaces as one: the same line of another submission."""
    return re.sub(r"\s+", " ", re.sub(r"\d+(\.\d+)?", "N", line)).strip()


@pytest.mark.slow
def test_the_readmes_lines_for_points_left_to_the_instructor_are_what_a_check_prints(
        bundle_folder: Path, stubs_checked: subprocess.CompletedProcess) -> None:
    """The README's example run shows each part's heading and score line, and the total, as a check prints them
    (numbers aside): the words for the points left to the instructor are the ones students will see."""
    readme = (bundle_folder / "README.md").read_text()
    example = [line.strip() for line in readme.splitlines()
               if "instructor grades" in line and line.strip().startswith(("Part ", "Total"))]
    printed = {number_free(line) for line in (stubs_checked.stdout + stubs_checked.stderr).splitlines()}
    assert len(example) >= 8 and [line for line in example if number_free(line) not in printed] == []
