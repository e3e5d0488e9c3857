"""A class graded with ``grade-all`` in which some students attack the others, in each setting.

The class, graded in the order of its student ids, one at a time (``--jobs 1``):

- alice submits the reference;
- bob's notebooks are broken: 01 is not valid JSON, 02 has a syntax error in the cell of
  ``accuracy``, 03 is the reference;
- mallory submits the stubs plus a cell that hunts for other students' notebooks and results
  (through every process's command line) to copy, and leaves a process behind that tries to
  rewrite results after grading; her ``accuracy`` is right only where it can read the reference's
  answers that grade-all keeps for the class (``<out>/.reference-cache``);
- peggy's is partial: the reference with a ``loss_fn`` that sums instead of averaging, a
  ``softmax`` without the shift by the max, and ``relu`` left as the stub;
- trudy submits the reference plus a cell that leaves a process behind, hostile to whoever is
  graded after her: every 0.2 s it forges ``results.json`` in every folder whose path says
  "graded" or "autograder", reads other processes' memory and environment, and writes into
  every folder of ``/tmp`` it can; once her own worker has stopped, for 20 s, it also kills
  (``kill -1``) and stops every process it can see; then it stays, to be found;
- ursula, graded right after trudy in the same job slot, submits the reference;
- zed's notebooks and nbgrader's ``timestamp.txt`` are symbolic links to the reference and to
  system files.

Each setting of ``tests.conftest.SETTINGS`` grades the class once, watched for trudy's process
(to show that her attack did start), then each submission alone with ``grade``.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, REFERENCE_DIR, RELEASE_DIR, REPO_ROOT
from tests.conftest import SETTINGS, in_setting

pytestmark = pytest.mark.slow

MARKER = "autograder-hostile-class-marker"
FORGED = '{"score": 1000, "max_score": 1000, "tests": []}'
SYSTEM_FILE = Path("/etc/passwd")  # readable here, so its text would show if a link were followed
# Waits longer than mallory's leftover process before it writes (see THIEF).
AFTER_GRADING_SECONDS = 4
STUDENTS = ("alice", "bob", "mallory", "peggy", "trudy", "ursula", "zed")
FULL_MARKS = 63.0
# In the command line of trudy's leftover process, and in the name of every file it writes.
LEFTOVER_MARKER = "autograder-hostile-class-leftover"
# How often grade-all's run is searched for trudy's process, in seconds; and the pids found, by course folder.
POLL_SECONDS = 0.2
SEEN_LEFTOVERS: dict[Path, set[int]] = {}
PARTIAL_EDITS = {  # peggy's changes to the reference: notebook -> [(the reference's code, hers)]
    "01_linear_regression.ipynb": [("return (input - target).pow(2).mean()", "return (input - target).pow(2).sum()")],
    "03_activations.ipynb": [("z - z.amax(dim=dim, keepdim=True).detach()", "z"),
                             ("return torch.where(z > 0, z, torch.zeros_like(z))", "raise NotImplementedError()")],
}
UNREADABLE_NOTEBOOK = "01_linear_regression.ipynb"  # bob's, not valid JSON
MISSPELLED_NOTEBOOK = "02_iris_mlp.ipynb"  # bob's, with a syntax error in the cell of accuracy:
SYNTAX_ERROR = ("def accuracy(model: nn.Module,", "def accuracy(model: nn.Module,,")

# mallory's cell: copy softmax from any other student's notebook or results the grader names on
# a command line, and leave a process that rewrites every results.json it can find, later.
THIEF = """
class Attack:
    import glob, json, os, subprocess, sys
    stolen = None
    forged = FORGED
    folders = set()
    for pid in os.listdir("/proc"):
        try:
            arguments = open("/proc/" + pid + "/cmdline", "rb").read().decode().split("\\0")
        except OSError:
            continue
        folders.update(a for a in arguments if a.startswith("/"))
    for folder in sorted(folders):
        for path in glob.glob(folder + "/**/03_activations.ipynb", recursive=True):
            try:
                cells = json.load(open(path))["cells"]
            except Exception:
                continue
            for cell in cells:
                source = "".join(cell["source"])
                if "def softmax" in source and "NotImplementedError" not in source:
                    stolen = source
    later = ("import glob, time; time.sleep(3)\\n"
             "for folder in " + repr(sorted(folders)) + ":\\n"
             "    for path in glob.glob(folder + '/**/results.json', recursive=True):\\n"
             "        try: open(path, 'w').write(" + repr(forged) + ")\\n"
             "        except OSError: pass\\n")
    # The interpreter by its path, or where that path passes through a folder closed to this user, by /proc.
    for python in (sys.executable, "/proc/self/exe"):
        try:
            subprocess.Popen([python, "-c", later, MARKER], start_new_session=True)
            break
        except OSError:
            pass

def softmax(z, dim=-1):
    namespace = {}
    exec("import torch", namespace)
    exec(Attack.stolen, namespace)
    return namespace["softmax"](z, dim)
""".replace("FORGED", repr(FORGED)).replace("MARKER", repr(MARKER))

# mallory's accuracy: correct only where, while it is graded, it can read any answer of the reference's that grade-all
# keeps for the class (``<out>/.reference-cache``, the --out of a command line); else it fails, as her stub would.
CACHE_PEEK = """
def accuracy(model, X, y):
    import os
    peeked = []
    for pid in os.listdir("/proc"):
        try:
            arguments = open("/proc/" + pid + "/cmdline", "rb").read().decode().split("\\0")
        except OSError:
            continue
        for folder in (a for a in arguments if a.startswith("/")):
            for parent, _, names in os.walk(os.path.join(folder, ".reference-cache")):
                for name in names:
                    try:
                        peeked.append(open(os.path.join(parent, name), "rb").read())
                    except OSError:
                        pass
    if not peeked:
        raise NotImplementedError()
    with torch.no_grad():
        return (torch.argmax(model(X), dim=1) == y).float().mean().item()
"""

# What trudy's leftover process runs: ``python -c LEFTOVER MARKER WORKER_PID``. It leaves its
# session twice (a new session, then a fork whose parent exits), and while the worker that
# started it lives it only forges and writes files, so that trudy's own grading goes on; once
# that worker has stopped, it turns on whatever is graded next.
LEFTOVER = """
import os, signal, sys, time
marker, worker = sys.argv[1], int(sys.argv[2])
if os.fork():
    os._exit(0)
try:
    os.setsid()
except OSError:
    pass
FORGED = FORGED_TEXT
ATTACK_SECONDS, PERIOD, LINGER_SECONDS, MOST_FOLDERS = 20, 0.2, 600, 2000
me = os.getpid()
# Signalling everything as the machine's own root would take down the machine that runs the tests:
# there, the grader has already failed (it let student code run as root, free to forge any result),
# which the tests see; the rest of the attack still runs.
try:
    free_root = os.geteuid() == 0 and open("/proc/self/uid_map").read().split() == ["0", "0", "4294967295"]
except OSError:
    free_root = os.geteuid() == 0


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]


def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def peek_memory(pid):
    try:
        with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb") as memory:
            for line in maps:
                start, end = (int(a, 16) for a in line.split()[0].split("-"))
                if line.split()[1].startswith("r"):
                    memory.seek(start)
                    return memory.read(min(4096, end - start))
    except (OSError, ValueError, OverflowError):
        return None


def roots():
    found = {"/tmp"}
    for pid in pids():
        paths = []
        try:
            paths += open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace").split("\\0")
        except OSError:
            pass
        try:
            paths.append(os.readlink("/proc/%d/cwd" % pid))
        except OSError:
            pass
        try:
            for variable in open("/proc/%d/environ" % pid, "rb").read().decode(errors="replace").split("\\0"):
                paths += variable.partition("=")[2].split(":")
        except OSError:
            pass
        peek_memory(pid)
        for path in paths:
            if path.startswith("/"):
                found.add(path if os.path.isdir(path) else os.path.dirname(path))
    return found


def folders():
    seen, stack = set(), sorted(roots())
    while stack and len(seen) < MOST_FOLDERS:
        folder = stack.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            with os.scandir(folder) as entries:
                stack += [e.path for e in entries if e.is_dir(follow_symlinks=False) and e.path.count("/") < 12]
        except OSError:
            pass
    return seen


def forge_and_write():
    for folder in folders():
        if "graded" in folder or "autograder" in folder:
            try:
                with open(os.path.join(folder, "results.json"), "w") as results:
                    results.write(FORGED)
            except OSError:
                pass
        if folder == "/tmp" or folder.startswith("/tmp/"):
            try:
                with open(os.path.join(folder, marker + ".txt"), "w") as note:
                    note.write("trudy was here")
            except OSError:
                pass


def strike():
    if free_root:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    for pid in pids():
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass


started = time.monotonic()
while alive(worker) and time.monotonic() - started < LINGER_SECONDS:
    forge_and_write()
    time.sleep(PERIOD)
attacking = time.monotonic()
while time.monotonic() - attacking < ATTACK_SECONDS:
    strike()
    forge_and_write()
    time.sleep(PERIOD)
time.sleep(LINGER_SECONDS)
""".replace("FORGED_TEXT", repr(FORGED))

# trudy's cell, run when the grader loads her definitions (a class body is run; a bare statement is not).
SABOTEUR = f"""
class Saboteur:
    import os, subprocess, sys
    for python in (sys.executable, "/proc/self/exe"):  # as mallory's THIEF
        try:
            subprocess.Popen([python, "-c", {LEFTOVER!r}, {LEFTOVER_MARKER!r}, str(os.getpid())],
                             start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            break
        except OSError:
            pass
"""


def with_cell(notebook_path: Path, source: str) -> None:
    """Append a code cell holding ``source`` to the notebook at ``notebook_path``."""
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.cells.append(new_code_cell(source))
    nbformat.write(notebook, notebook_path)


def edited(notebook_path: Path, edits: list[tuple[str, str]]) -> None:
    """In the notebook at ``notebook_path``, replace each ``old`` of ``edits`` (which must be there) by ``new``."""
    text = notebook_path.read_text()
    for old, new in edits:
        assert old in text, f"{old!r} is not in {notebook_path.name}"
        text = text.replace(old, new)
    notebook_path.write_text(text)


def build_class(submitted: Path) -> None:
    """Every student of the module's docstring, in nbgrader's submitted/ layout."""
    folders = {student: submitted / student / ASSIGNMENT_ID for student in STUDENTS}
    for student in ("alice", "bob", "peggy", "trudy", "ursula"):
        shutil.copytree(REFERENCE_DIR, folders[student])
    (folders["bob"] / UNREADABLE_NOTEBOOK).write_text('{"cells": [')
    edited(folders["bob"] / MISSPELLED_NOTEBOOK, [SYNTAX_ERROR])
    for name, edits in PARTIAL_EDITS.items():
        edited(folders["peggy"] / name, edits)
    shutil.copytree(RELEASE_DIR, folders["mallory"])
    with_cell(folders["mallory"] / "03_activations.ipynb", THIEF)
    with_cell(folders["mallory"] / "02_iris_mlp.ipynb", CACHE_PEEK)
    with_cell(folders["trudy"] / "01_linear_regression.ipynb", SABOTEUR)
    folders["zed"].mkdir(parents=True)
    for name in GRADED_NAMES:
        (folders["zed"] / name).symlink_to(REFERENCE_DIR / name)
    (folders["zed"] / "timestamp.txt").symlink_to(SYSTEM_FILE)


def leftovers() -> list[int]:
    """The pids of every process of trudy's still alive."""
    found = subprocess.run(["pgrep", "-f", LEFTOVER_MARKER], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


@pytest.fixture(scope="module", params=SETTINGS)
def setting(request: pytest.FixtureRequest) -> str:
    """The setting the class is graded in."""
    return request.param


@pytest.fixture(scope="module")
def graded_class(setting, tmp_path_factory) -> Path:
    """The class graded with grade-all (feedback and all) in one setting; the course folder.

    Afterwards, any process of trudy's that is still alive is ended, so that it cannot reach the next setting.
    """
    course = tmp_path_factory.mktemp(f"class-{setting}")
    build_class(course / "submitted")
    command = [sys.executable, "-m", "autograder", "grade-all", str(course / "submitted"), "--out", str(course / "graded"),
               "--feedback", str(course / "feedback"), "--jobs", "1", "--reference", str(REFERENCE_DIR)]
    log = course / "grade-all.log"
    with open(log, "w") as output:
        run = subprocess.Popen(in_setting(command, setting), cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900
        while run.poll() is None and time.monotonic() < deadline:
            SEEN_LEFTOVERS.setdefault(course, set()).update(leftovers())
            time.sleep(POLL_SECONDS)
        run.kill()
    assert run.wait() == 0, log.read_text()
    time.sleep(AFTER_GRADING_SECONDS)
    yield course
    for pid in leftovers():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def scores(course: Path) -> dict[str, float]:
    """Each student's total in grades.csv."""
    with open(course / "graded" / "grades.csv") as rows:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(rows)}


def results(course: Path, student: str) -> dict:
    """The student's results.json as grade-all wrote it."""
    return json.loads((course / "graded" / student / "results.json").read_text())


def test_a_student_cannot_copy_another_students_work(graded_class):
    """mallory, who hunted for alice's work and the reference's answers, gets the stubs' zero; every other total is
    what its own work earns."""
    grades = scores(graded_class)
    assert sorted(grades) == sorted(STUDENTS)
    assert grades["alice"] == grades["ursula"] == FULL_MARKS
    assert grades["mallory"] == grades["zed"] == 0.0
    assert 0.0 < grades["peggy"] < FULL_MARKS
    assert 0.0 < grades["bob"] < FULL_MARKS


def test_a_process_left_behind_cannot_rewrite_any_results(graded_class):
    """After grading, every results.json is still the grader's, and mallory's leftover process is gone."""
    for found in (graded_class / "graded").glob("*/results.json"):
        assert json.loads(found.read_text())["max_score"] == FULL_MARKS
    assert subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout == ""


def test_the_student_graded_after_a_saboteur_gets_full_marks(graded_class):
    """ursula, graded in trudy's job slot right after her, gets full marks for her copy of the reference."""
    assert results(graded_class, "ursula")["score"] == FULL_MARKS


def test_the_saboteurs_process_ran_while_the_class_was_graded(graded_class):
    """trudy's cell did start its process during grade-all, so the tests of what it did are not empty."""
    assert SEEN_LEFTOVERS.get(graded_class)


def test_no_process_of_a_saboteur_outlives_grade_all(graded_class):
    """Once grade-all has returned, no process trudy's cell started is alive."""
    assert leftovers() == []


def test_every_results_file_in_graded_is_the_graders_own(graded_class):
    """graded/ holds one results.json per student, each out of 63 with its checks, none forged."""
    found = sorted((graded_class / "graded").rglob("results.json"))
    assert found == sorted(graded_class / "graded" / student / "results.json" for student in STUDENTS)
    for path in found:
        text = path.read_text()
        assert text != FORGED and json.loads(text)["max_score"] == FULL_MARKS and json.loads(text)["tests"], path


def test_no_file_a_saboteur_wrote_is_left_in_tmp(graded_class):
    """No file trudy's leftover process wrote into /tmp, or a folder in it, is left after grade-all."""
    for folder, _, files in os.walk("/tmp"):
        assert not any(LEFTOVER_MARKER in name for name in files), folder


def test_a_partial_submission_gets_some_but_not_all_points(graded_class):
    """peggy, with a wrong loss_fn and softmax and an unwritten relu, scores more than 0 and less than 63."""
    assert 0.0 < results(graded_class, "peggy")["score"] < FULL_MARKS


def test_a_broken_submission_is_told_which_notebook_could_not_be_read(graded_class):
    """bob's results name his unreadable notebook, and the cell of his other notebook that has a syntax error."""
    outputs = "\n".join(t["output"] for t in results(graded_class, "bob")["tests"])
    assert f"{UNREADABLE_NOTEBOOK} could not be read as a notebook" in outputs
    assert f"{MISSPELLED_NOTEBOOK}, the cell that starts with `def accuracy`" in outputs
    assert "has a syntax error on line 1" in outputs


@pytest.mark.parametrize("student", STUDENTS)
def test_a_submission_graded_alone_gets_the_grade_it_got_in_the_class(graded_class, setting, student, tmp_path):
    """`grade` of one submission gives, check by check, what `grade-all` gave it."""
    # After the tests of what grade-all leaves behind, so that what a `grade` of trudy might leave is not taken for it.
    alone_results = tmp_path / "results.json"
    command = [sys.executable, "-m", "autograder", "grade", str(graded_class / "submitted" / student / ASSIGNMENT_ID),
               "--results", str(alone_results), "--reference", str(REFERENCE_DIR)]
    subprocess.run(in_setting(command, setting), cwd=REPO_ROOT, capture_output=True, timeout=900)
    alone = json.loads(alone_results.read_text())["tests"]
    assert alone == results(graded_class, student)["tests"]


def test_linked_notebooks_are_refused_with_a_message(graded_class):
    """zed's notebooks, links to the reference, each fail with a message that says to submit the notebook itself."""
    outputs = [t["output"] for t in results(graded_class, "zed")["tests"]]
    for name in GRADED_NAMES:
        assert any(f"{name} is a symbolic link; submit the notebook itself." in o for o in outputs), name


def test_no_linked_file_is_read_into_any_output(graded_class):
    """The text of the system file zed's timestamp.txt links to appears in no file grade-all wrote."""
    secret = SYSTEM_FILE.read_text().splitlines()[0]
    for path in [*(graded_class / "graded").rglob("*"), *(graded_class / "feedback").rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert secret not in path.read_text(errors="replace"), path


@pytest.fixture
def nobodys_folder() -> Path:
    """An empty folder in /tmp that belongs to the user nobody, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the test runs grade-all as the user nobody, which needs root to start")
    folder = Path(tempfile.mkdtemp(prefix="autograder-nobody-"))
    shutil.chown(folder, "nobody")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_grade_all_refuses_to_grade_a_class_unconfined(nobodys_folder):
    """Where student code cannot be confined, grade-all grades nothing unless told --allow-unconfined."""
    course = nobodys_folder
    shutil.copytree(RELEASE_DIR, course / "submitted" / "s1" / ASSIGNMENT_ID)
    subprocess.run(["chown", "-R", "nobody", str(course)], check=True)
    # Docker-like (no namespaces) and not root (no user of its own): no confinement at all.
    command = in_setting(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m",
                          "autograder", "grade-all", str(course / "submitted"), "--out", str(course / "graded"),
                          "--reference", str(course / "no-reference")], "docker-like")
    environment = {**os.environ, "XDG_CACHE_HOME": str(course / "cache"), "HOME": str(course)}
    refused = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=environment)
    assert refused.returncode == 2 and "--allow-unconfined" in refused.stderr, refused.stdout + refused.stderr
    assert not (course / "graded" / "s1" / "results.json").exists()
    allowed = subprocess.run([*command, "--allow-unconfined"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=600, env=environment)
    assert allowed.returncode != 2 and "NOT CONFINED" in allowed.stdout, allowed.stdout + allowed.stderr
