"""A class graded with ``grade-all`` in which some students attack the others, in each setting.

The class: alice submits the reference; mallory submits the stubs plus a cell that hunts for
other students' notebooks and results (through every process's command line) to copy, and
leaves a process behind that tries to rewrite mallory's own results after grading; zed's
notebooks and nbgrader's ``timestamp.txt`` are symbolic links to the reference and to system
files. Each setting of ``tests.conftest.SETTINGS`` grades the class once.
"""

import csv
import json
import os
import shutil
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
    subprocess.Popen([sys.executable, "-c", later, MARKER], start_new_session=True)

def softmax(z, dim=-1):
    namespace = {}
    exec("import torch", namespace)
    exec(Attack.stolen, namespace)
    return namespace["softmax"](z, dim)
""".replace("FORGED", repr(FORGED)).replace("MARKER", repr(MARKER))


def build_class(submitted: Path) -> None:
    """alice (the reference), mallory (stubs and THIEF) and zed (links) in nbgrader's submitted/ layout."""
    shutil.copytree(REFERENCE_DIR, submitted / "alice" / ASSIGNMENT_ID)
    mallory = submitted / "mallory" / ASSIGNMENT_ID
    shutil.copytree(RELEASE_DIR, mallory)
    notebook = nbformat.read(mallory / "03_activations.ipynb", as_version=4)
    notebook.cells.append(new_code_cell(THIEF))
    nbformat.write(notebook, mallory / "03_activations.ipynb")
    zed = submitted / "zed" / ASSIGNMENT_ID
    zed.mkdir(parents=True)
    for name in GRADED_NAMES:
        (zed / name).symlink_to(REFERENCE_DIR / name)
    (zed / "timestamp.txt").symlink_to(SYSTEM_FILE)


@pytest.fixture(scope="module", params=SETTINGS)
def setting(request: pytest.FixtureRequest) -> str:
    """The setting the class is graded in."""
    return request.param


@pytest.fixture(scope="module")
def graded_class(setting, tmp_path_factory) -> Path:
    """The class graded with grade-all (feedback and all) in one setting; the course folder."""
    course = tmp_path_factory.mktemp(f"class-{setting}")
    build_class(course / "submitted")
    command = [sys.executable, "-m", "autograder", "grade-all", str(course / "submitted"), "--out", str(course / "graded"),
               "--feedback", str(course / "feedback"), "--jobs", "1", "--reference", str(REFERENCE_DIR)]
    run = subprocess.run(in_setting(command, setting), cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    time.sleep(AFTER_GRADING_SECONDS)
    return course


def scores(course: Path) -> dict[str, float]:
    """Each student's total in grades.csv."""
    with open(course / "graded" / "grades.csv") as rows:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(rows)}


def test_a_student_cannot_copy_another_students_work(graded_class):
    """mallory, who hunted for alice's notebooks and results, gets the stubs' zero, and alice full marks."""
    assert scores(graded_class) == {"alice": 63.0, "mallory": 0.0, "zed": 0.0}


@pytest.mark.parametrize("student", ["alice", "mallory", "zed"])
def test_a_submission_graded_alone_gets_the_grade_it_got_in_the_class(graded_class, setting, student, tmp_path):
    """`grade` of one submission gives, check by check, what `grade-all` gave it."""
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "autograder", "grade", str(graded_class / "submitted" / student / ASSIGNMENT_ID),
               "--results", str(results), "--reference", str(REFERENCE_DIR)]
    subprocess.run(in_setting(command, setting), cwd=REPO_ROOT, capture_output=True, timeout=900)
    alone = json.loads(results.read_text())["tests"]
    in_class = json.loads((graded_class / "graded" / student / "results.json").read_text())["tests"]
    assert alone == in_class


def test_a_process_left_behind_cannot_rewrite_any_results(graded_class):
    """After grading, every results.json is still the grader's, and mallory's leftover process is gone."""
    for results in (graded_class / "graded").glob("*/results.json"):
        assert json.loads(results.read_text())["max_score"] == 63.0
    assert subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout == ""


def test_linked_notebooks_are_refused_with_a_message(graded_class):
    """zed's notebooks, links to the reference, each fail with a message that says to submit the notebook itself."""
    outputs = [t["output"] for t in json.loads((graded_class / "graded" / "zed" / "results.json").read_text())["tests"]]
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
