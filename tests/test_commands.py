"""``python -m autograder``'s commands as users start them: check, an interrupted grade-all, the Gradescope bundle."""

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, RELEASE_DIR
from autograder.instructor.gradescope import build_bundle
from tests.test_hostile_submissions import ATTACKS, hostile_submission

pytestmark = pytest.mark.slow


def autograder(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_check_grades_only_the_given_notebooks_parts_from_any_folder(tmp_path):
    """`check path/03_activations.ipynb`, run outside the repository, grades Part 3 and nothing else."""
    notebook = shutil.copy(RELEASE_DIR / "03_activations.ipynb", tmp_path)
    run = autograder("check", str(notebook), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Part 3: activation functions" in run.stdout and "Part 1" not in run.stdout
    assert "✗ softmax: 0 / 9.5 — not implemented yet (03_activations.ipynb, the cell that starts with `def softmax`" in run.stdout


def test_check_leaves_the_students_folder_as_it_was(tmp_path):
    """`check`, run from inside the student's folder, writes nothing there (no .hypothesis, no cache)."""
    folder = tmp_path / "pytorch_nn"
    shutil.copytree(RELEASE_DIR, folder)
    autograder("check", ".", "-x", cwd=folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in RELEASE_DIR.iterdir())


def test_check_refuses_a_renamed_notebook(tmp_path):
    """`check` on a notebook with another name says which names it expects."""
    notebook = shutil.copy(RELEASE_DIR / "03_activations.ipynb", tmp_path / "activations_final.ipynb")
    run = autograder("check", str(notebook), cwd=tmp_path)
    assert run.returncode == 4 and "not one of this assignment's notebooks" in run.stderr


def test_an_interrupted_class_run_keeps_its_finished_grades(tmp_path):
    """Ctrl-C during grade-all keeps every finished grade, and the next run grades only the rest."""
    submitted = tmp_path / "submitted"
    for student in ("s1", "s2", "s3"):
        shutil.copytree(RELEASE_DIR, submitted / student / ASSIGNMENT_ID)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(out), "--jobs", "1"]
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/fingerprint.txt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 130 and "run the same command again" in stderr, stderr
    finished = len(list(out.glob("*/fingerprint.txt")))
    assert 1 <= finished < 3
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert f"{3 - finished} graded now, {finished} already up to date" in rerun.stdout, rerun.stdout + rerun.stderr


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory) -> Path:
    """The bundle unpacked as Gradescope unpacks it: source/, and run_autograder copied beside it."""
    root = tmp_path_factory.mktemp("autograder")
    bundle = root / "autograder.zip"
    build_bundle(bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def run_on_gradescope(root: Path, submission: Path) -> dict:
    """Place ``submission`` where Gradescope puts uploads, run run_autograder, return results.json."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "PYTHONPATH": str(root / "source")}
    run = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"rootdir: {root / 'source'}" in run.stdout, "the bundle's own copy of the package should grade"
    return json.loads((root / "results" / "results.json").read_text())


def test_the_gradescope_bundle_gives_the_reference_full_marks(gradescope_root):
    """run_autograder, in Gradescope's layout, grades the reference with every point, reference checks included."""
    results = run_on_gradescope(gradescope_root, REFERENCE_DIR)
    assert results["score"] == results["max_score"] > 0
    assert not [t for t in results["tests"] if t["output"].startswith("Not checked")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")
def test_the_gradescope_bundle_hides_its_reference_from_student_code(gradescope_root, tmp_path):
    """A submission that copies softmax from the bundle's reference notebooks earns nothing for it."""
    attack = ATTACKS["read_the_reference_solutions"]
    submission = hostile_submission("read_the_reference_solutions", attack, tmp_path / "upload", port=9)
    notebook = submission / attack.notebook
    notebook.write_text(notebook.read_text().replace(
        str(REFERENCE_DIR), str(gradescope_root / "source" / "solutions" / ASSIGNMENT_ID)))
    results = run_on_gradescope(gradescope_root, submission)
    assert results["score"] == attack.honest_score
