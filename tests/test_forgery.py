"""Submissions that try to forge a grade get exactly their honest score, in each setting.

A forgery is a base (the untouched stubs, or the reference notebooks) with cells appended that
redefine some graded functions and try to be credited for work they do not do: PyTorch's own
activations hidden from the from-scratch check, training that never happens, saving that
saves nothing, an update that is not in place. Its honest score is that of its *twin*: the
same submission with the forging part taken out (the functions left as stubs, or written
plainly). Forgeries and twins are graded together as one class with ``grade-all``, the
reference present, in each setting of ``tests.conftest.SETTINGS``; the Docker-like class is
graded from a copy of the course in a folder only root can enter (``mkdtemp``'s 0700), where
student code must still run confined, as a user of its own.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.boundary.reference import LocalSubmission
from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, REPO_ROOT
from autograder.suite import probes
from tests.conftest import SETTINGS, in_setting
from tests.forgeries import ACTIVATIONS, FORGERIES, LECTURE_MLP_RUN, SHARED_MEMORY_BOUND_MB

pytestmark = pytest.mark.slow


def lecture_run_literals() -> str:
    """The lecture's Iris run, trained with the reference: its final parameters and histories, as literals."""
    run = LocalSubmission(REFERENCE_DIR).run(probes.mlp_training_run, **LECTURE_MLP_RUN)
    planted = {name: tensor.tolist() for name, tensor in run["final"].items()}
    return f"PLANTED = {planted!r}\nHISTORIES = {tuple(list(h) for h in run['histories'])!r}\n"


def with_cells(base: Path, cells: dict[str, str], folder: Path, constants: str) -> None:
    """``base``'s notebooks copied into ``folder``, each of ``cells`` appended to its notebook."""
    shutil.copytree(base, folder)
    for notebook_name, source in cells.items():
        path = folder / notebook_name
        notebook = nbformat.read(path, as_version=4)
        notebook.cells.append(new_code_cell(constants if "PLANTED" in source else ""))
        notebook.cells.append(new_code_cell(source))
        nbformat.write(notebook, path)


def twin_of(name: str) -> str:
    """The student id of a forgery's twin: forgeries whose twins are the same submission share one."""
    forgery = FORGERIES[name]
    same = [other for other, f in FORGERIES.items() if (f.base, f.honest) == (forgery.base, forgery.honest)]
    return f"{same[0]}.twin"


def build_class(submitted: Path) -> None:
    """Every forgery and its twin, as nbgrader's submitted/<student>/<assignment>/ folders."""
    constants = lecture_run_literals()
    for name, forgery in FORGERIES.items():
        with_cells(forgery.base, forgery.cells, submitted / name / ASSIGNMENT_ID, constants)
        if not (submitted / twin_of(name)).exists():
            with_cells(forgery.base, forgery.honest, submitted / twin_of(name) / ASSIGNMENT_ID, constants)
    # Where a worker could write, the rewriting forgery finds its notebook open to it.
    rewriting = submitted / "rewrites_its_notebook_after_loading" / ASSIGNMENT_ID
    rewriting.chmod(0o777)
    (rewriting / ACTIVATIONS).chmod(0o666)


def course_copy(folder: Path) -> Path:
    """The course (the package, the reference, the release) copied into ``folder``, for grading from there."""
    for part in ("autograder", "solutions", "assignments"):
        shutil.copytree(REPO_ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def shared_memory_kb() -> int:
    """The machine's shared memory in use (tmpfs, memfd, System V), from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1])
    return 0


@dataclass
class GradedClass:
    """The class's results by student, where grade-all wrote its pages, and how much the machine's shared memory grew
    at most meanwhile."""

    results: dict[str, dict]
    out: Path
    shared_memory_growth_mb: float


@pytest.fixture(scope="module", params=SETTINGS)
def setting(request: pytest.FixtureRequest) -> str:
    """The setting the forgeries are graded in."""
    return request.param


@pytest.fixture(scope="module")
def graded_class(setting: str, tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    """Every forgery and twin graded as one class with grade-all; Docker-like, from a course only root can enter."""
    root = tmp_path_factory.mktemp(f"forgeries-{setting}")
    build_class(root / "submitted")
    course = REPO_ROOT
    if setting == "docker-like":
        course = course_copy(Path(tempfile.mkdtemp(prefix="autograder-closed-course-")))
    command = [sys.executable, "-m", "autograder", "grade-all", str(root / "submitted"), "--out", str(root / "graded")]
    base, peak, done = shared_memory_kb(), [0], threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], shared_memory_kb() - base)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run = subprocess.run(in_setting(command, setting), cwd=course, capture_output=True, text=True, timeout=1800)
    finally:
        done.set()
        watcher.join()
        if course != REPO_ROOT:
            shutil.rmtree(course, ignore_errors=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = {folder.name: json.loads((folder / "results.json").read_text())
               for folder in (root / "graded").iterdir() if (folder / "results.json").is_file()}
    return GradedClass(results, root / "graded", peak[0] / 1024)


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forgery_gets_exactly_its_honest_score(name, graded_class):
    """The forgery's score is its twin's: what the same submission earns without the forging."""
    forged, honest = graded_class.results[name], graded_class.results[twin_of(name)]
    lost = {t["name"]: (t["score"], t["output"][:200]) for t in forged["tests"]}
    assert forged["score"] == honest["score"], (forged["score"], honest["score"], lost)


def test_forgeries_are_graded_confined(graded_class, setting):
    """Every forgery was graded confined: in namespaces as on CI, as a user of its own where Docker forbids them,
    even from a course folder only root can enter."""
    expected = {"namespaces": "(namespaces)", "docker-like": "(user)"}[setting]
    assert all(expected in r["output"] for r in graded_class.results.values())


def test_a_builtin_activation_is_named_with_its_line(graded_class):
    """A hidden PyTorch activation is refused by name, with the line it is on, in the student's terms."""
    outputs = [t["output"] for t in graded_class.results["hides_behind_aliases_and_a_failing_redefinition"]["tests"]
               if t["extra_data"]["checks"] == "softmax"]
    assert any("softmax uses `elementary.softmax` on line" in o and "torch.nn" in o for o in outputs), outputs[:2]


def test_memory_held_in_shared_memory_ends_the_worker(graded_class):
    """A function that holds 4 GB where RLIMIT_DATA does not count ends its worker at the cap, not the machine's memory."""
    outputs = [t["output"] for t in graded_class.results["holds_4_gb_in_shared_memory"]["tests"]
               if t["extra_data"]["checks"] == "loss_fn"]
    assert any("stopped while running loss_fn" in o for o in outputs), outputs[:2]
    assert graded_class.shared_memory_growth_mb < SHARED_MEMORY_BOUND_MB


def test_nothing_is_left_in_shared_memory(graded_class):
    """No file a forgery wrote in /dev/shm is left once the class is graded."""
    assert not list(Path("/dev/shm").glob("held-*"))


def test_a_failure_that_says_it_was_not_checked_is_shown_as_failed(graded_class):
    """A function failing with a message that reads "Not checked: ..." is a failed check on the student's page and
    among the class's most common failures: what became of a check is the grader's to say."""
    name = "a_failure_that_says_it_was_not_checked"
    states = {t["extra_data"]["state"] for t in graded_class.results[name]["tests"] if t["extra_data"]["checks"] == "loss_fn"}
    page = (graded_class.out / name / "feedback.html").read_text()
    report = (graded_class.out / "class_report.html").read_text()
    failures = report[report.index('id="failures"'):]
    assert states == {"failed"} and "✗ <code>loss_fn</code>" in page and name in failures, states
