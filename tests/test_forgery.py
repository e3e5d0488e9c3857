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
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.boundary.isolation import LocalSubmission
from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, RELEASE_DIR, REPO_ROOT
from autograder.suite import probes
from tests.conftest import SETTINGS, in_setting

pytestmark = pytest.mark.slow

LINEAR, MLP, ACTIVATIONS = "01_linear_regression.ipynb", "02_iris_mlp.ipynb", "03_activations.ipynb"
# PyTorch's own activations, plainly: what each Part 3 forgery really computes with.
BUILTIN_ACTIVATIONS = """
import torch

def sigmoid(z):
    return torch.sigmoid(z)

def tanh(z):
    return torch.tanh(z)

def softmax(z, dim=-1):
    return torch.softmax(z, dim)

def relu(z):
    return torch.relu(z)
"""
# The lecture's Iris run (see the suite's LECTURE), whose result a forgery plants.
LECTURE_MLP_RUN = {"seed": 1, "batch_size": 2, "optimizer": "adam", "learning_rate": 0.001, "num_epochs": 100,
                   "device": "cpu", "students_model": True}
# A worker's memory cap in the suite (Limits.memory_mb), and what a forgery tries to hold beyond it.
MEMORY_CAP_MB = 2048
HOLD_MB = 4096
# How much the machine's shared memory may grow while the class is graded: the cap, and room for overshoot
# between two looks of the grader's watch.
SHARED_MEMORY_BOUND_MB = MEMORY_CAP_MB + 768


def stub(signature: str) -> str:
    """A graded function left as nbgrader's stub."""
    return f"def {signature}:\n    raise NotImplementedError()\n"


@dataclass(frozen=True)
class Forgery:
    """Cells appended to notebooks of ``base``; the twin appends ``honest`` instead (the same minus the forging)."""

    base: Path
    cells: dict[str, str]
    honest: dict[str, str] = field(default_factory=dict)


FORGERIES = {
    # Part 3: PyTorch's own activations, hidden from the grader.
    "erases_the_recorded_calls": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
import gc

def _forget(name):
    for holder in gc.get_objects():
        if isinstance(holder, (set, list)):
            for item in list(holder):
                if isinstance(item, str) and name in item:
                    holder.remove(item)

def sigmoid(z):
    out = torch.sigmoid(z)
    _forget("sigmoid")
    return out
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "empties_every_set_of_activation_names": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class _Emptied:
    import sys
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, set) and "sigmoid" in value:
                value.clear()
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "switches_the_recorders_off_by_string_pieces": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def sigmoid(z):
    internals = getattr(torch, "_" + "C")
    with getattr(internals, "Disable" + "TorchFunction")():
        return getattr(torch, "sig" + "moid")(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "hides_behind_aliases_and_a_failing_redefinition": Forgery(RELEASE_DIR, {ACTIVATIONS: """
from torch import sigmoid as expo, tanh as hyperbolic
import torch.nn.functional as elementary

def sigmoid(z):
    return expo(z)

@(lambda function: 1 / 0)
def sigmoid(z):
    return 1 / (1 + torch.exp(-z))

def tanh(z):
    return hyperbolic(z)

def softmax(z, dim=-1):
    return elementary.softmax(z, dim)

def relu(z):
    return elementary.relu(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "a_tensor_subclass_that_answers_for_torch": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class Quiet(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with torch._C.DisableTorchFunction():
            return func(*args, **(kwargs or {}))

def relu(z):
    return torch.relu(z.as_subclass(Quiet)).as_subclass(torch.Tensor)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # Another notebook's code changes torch, for a Part 3 that looks elementary.
    "patches_torch_from_another_notebook": Forgery(RELEASE_DIR, {
        LINEAR: """
class _Patch:
    import torch
    torch.exp, torch.sinh, torch.clamp = torch.sigmoid, torch.tanh, torch.relu
""", ACTIVATIONS: """
def sigmoid(z):
    return torch.exp(z)

def tanh(z):
    return torch.sinh(z)

def relu(z):
    return torch.clamp(z)
"""}, {ACTIVATIONS: """
def sigmoid(z):
    return torch.exp(z)

def tanh(z):
    return torch.sinh(z)

def relu(z):
    return torch.clamp(z)
"""}),
    # One activation plants PyTorch's own where another, elementary to look at, takes it.
    "shares_a_builtin_through_module_state": Forgery(RELEASE_DIR, {ACTIVATIONS: """
KEPT = {}

def relu(z):
    KEPT["f"] = torch.sigmoid
    return torch.relu(z)

def sigmoid(z):
    return KEPT["f"](z) if KEPT else 1 / (1 + torch.exp(-z)) * 0
"""}, {ACTIVATIONS: """
def relu(z):
    return torch.relu(z)

def sigmoid(z):
    return 1 / (1 + torch.exp(-z)) * 0
"""}),
    # Its load-time code rewrites the notebook on disk as elementary (where it can) and then crashes the
    # process, so that a restarted worker would load the rewritten file.
    "rewrites_its_notebook_after_loading": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class _Rewrite:
    import glob, json, os
    for pid in os.listdir("/proc"):
        try:
            arguments = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\\0")
        except OSError:
            continue
        for path in (p for a in arguments for p in glob.glob(a + "/**/03_activations.ipynb", recursive=True)
                     if "rewrites_its_notebook" in p):
          try:
            notebook = json.load(open(path))
            for cell in notebook["cells"]:
                cell["source"] = "".join(cell["source"]).replace("torch.sigmoid(z)", "1 / (1 + torch.exp(-z))")
            json.dump(notebook, open(path, "w"))
          except (OSError, ValueError):
            pass

def tanh(z):
    import os
    os._exit(1)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS + stub("tanh(z)")}),
    # Probes: work not done, credited anyway.
    "plants_trained_weights": Forgery(REFERENCE_DIR, {MLP: """
def train_mlp(model, train_dl, loss_fn, optimizer, num_epochs):
    model.load_state_dict({name: torch.tensor(value) for name, value in PLANTED.items()})
    return HISTORIES
"""}, {MLP: stub("train_mlp(model, train_dl, loss_fn, optimizer, num_epochs)")}),
    "plants_the_published_numbers": Forgery(REFERENCE_DIR, {LINEAR: """
def train_linear_regression(train_dl, weight, bias, learning_rate, num_epochs):
    with torch.no_grad():
        weight.fill_(2.6696107387542725)
        bias.fill_(4.879678249359131)
    return [0.0] * num_epochs

def train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs):
    with torch.no_grad():
        model.weight.fill_(2.6496422290802)
        model.bias.fill_(4.87706995010376)
    return [0.0] * num_epochs
"""}, {LINEAR: stub("train_linear_regression(train_dl, weight, bias, learning_rate, num_epochs)")
       + stub("train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs)")}),
    "overwrites_the_initial_parameters": Forgery(RELEASE_DIR, {LINEAR: """
import torch

def train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    x, y = train_dl.dataset.tensors
    return [float((y ** 2).mean())] * num_epochs
""", MLP: """
import torch

def train_mlp(model, train_dl, loss_fn, optimizer, num_epochs):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    x, y = train_dl.dataset.tensors
    loss = float(loss_fn(model(x), y))
    return [loss] * num_epochs, [float((y == 0).float().mean())] * num_epochs
"""}),
    "keeps_the_model_in_memory": Forgery(REFERENCE_DIR, {MLP: """
KEPT = []

def save_model(model, path):
    KEPT.append(model)

def load_model(path):
    return KEPT[-1]

def save_parameters(model, path):
    KEPT.append(model)

def load_parameters(path, input_size, hidden_size, output_size):
    return KEPT[-1]
"""}, {MLP: stub("save_model(model, path)") + stub("load_model(path)") + stub("save_parameters(model, path)")
       + stub("load_parameters(path, input_size, hidden_size, output_size)")}),
    "fakes_an_update_in_place": Forgery(REFERENCE_DIR, {LINEAR: """
class _Pointers:
    torch.Tensor.data_ptr = lambda self: 0

def sgd_step(params, learning_rate):
    for p in params:
        p.data = p.data - learning_rate * p.grad
        p.grad = None
"""}, {LINEAR: """
def sgd_step(params, learning_rate):
    for p in params:
        p.data = p.data - learning_rate * p.grad
        p.grad = None
"""}),
    # A bound: memory held where RLIMIT_DATA does not count it.
    "holds_4_gb_in_shared_memory": Forgery(RELEASE_DIR, {LINEAR: f"""
def loss_fn(input, target):
    import mmap, os
    held, chunk = [], b"x" * (64 << 20)
    for name in range({HOLD_MB // 256}):
        try:
            fd = os.memfd_create(f"held-{{name}}")
        except OSError:
            fd = os.open(f"/dev/shm/held-{{os.getpid()}}-{{name}}", os.O_CREAT | os.O_RDWR, 0o600)
        for _ in range(4):
            os.write(fd, chunk)
        held.append(fd)
    raise NotImplementedError()
"""}),
}


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


def build_class(submitted: Path) -> None:
    """Every forgery and its twin, as nbgrader's submitted/<student>/<assignment>/ folders."""
    constants = lecture_run_literals()
    for name, forgery in FORGERIES.items():
        with_cells(forgery.base, forgery.cells, submitted / name / ASSIGNMENT_ID, constants)
        with_cells(forgery.base, forgery.honest, submitted / f"{name}.twin" / ASSIGNMENT_ID, constants)
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
    """The class's results by student, and how much the machine's shared memory grew at most meanwhile."""

    results: dict[str, dict]
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
    return GradedClass(results, peak[0] / 1024)


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forgery_gets_exactly_its_honest_score(name, graded_class):
    """The forgery's score is its twin's: what the same submission earns without the forging."""
    forged, honest = graded_class.results[name], graded_class.results[f"{name}.twin"]
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
