"""``python -m autograder``'s commands as users start them: check, an interrupted grade-all, the Gradescope bundle."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, REFERENCE_DIR, RELEASE_DIR
from autograder.instructor.gradescope import build_bundle
from tests.conftest import SETTINGS, in_setting
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


@pytest.fixture
def installed_plugin(tmp_path: Path) -> tuple[Path, Path]:
    """A pytest plugin installed in a folder for PYTHONPATH (a module and its entry point, as pip installs one), which
    writes a file as it loads: the folder, and the file."""
    site, loaded = tmp_path / "site", tmp_path / "plugin-loaded"
    (site / "reorder_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "reorder_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: reorder-plugin\n"
                                                                    "Version: 1.0\n")
    (site / "reorder_plugin-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nreorder = reorder_plugin\n")
    (site / "reorder_plugin.py").write_text(f"open({str(loaded)!r}, 'w').close()\n"
                                            "def pytest_collection_modifyitems(items):\n    items.reverse()\n")
    return site, loaded


def test_a_grading_loads_no_pytest_plugin_of_the_environment(tmp_path, installed_plugin):
    """A pytest plugin installed beside the grader, which pytest itself loads, is not loaded by `check`."""
    site, loaded = installed_plugin
    env = {**os.environ, "PYTHONPATH": str(site), "AUTOGRADER_CHECKER": "off"}
    (tmp_path / "empty").mkdir()
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "empty"],
                   cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert loaded.exists(), "the plugin was not installed: this test could not fail"
    loaded.unlink()
    run = autograder("check", str(shutil.copy(RELEASE_DIR / "03_activations.ipynb", tmp_path)), cwd=tmp_path, env=env)
    assert "Part 3: activation functions" in run.stdout, run.stdout + run.stderr
    assert not loaded.exists()


def test_an_interrupted_class_run_keeps_its_finished_grades(tmp_path):
    """Ctrl-C during grade-all keeps every finished grade, and the next run grades only the rest."""
    submitted = tmp_path / "submitted"
    for student in ("s1", "s2", "s3"):
        shutil.copytree(RELEASE_DIR, submitted / student / ASSIGNMENT_ID)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(out), "--jobs", "1"]
    # Ctrl-C as from a terminal, even where this test runs in the background, whose children ignore SIGINT.
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
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


@pytest.fixture(scope="module", params=SETTINGS)
def gradescope(request) -> tuple[Path, str]:
    """The bundle unpacked as Gradescope unpacks it (source/, and run_autograder beside it), and the setting.

    In a folder every user may enter, as Gradescope's /autograder is (pytest's own temporary
    folders are closed to other users): the worker, as a uid of its own, imports the bundle's package.
    """
    root = Path(tempfile.mkdtemp(prefix=f"autograder-{request.param}-"))
    root.chmod(0o755)
    bundle = root / "autograder.zip"
    build_bundle(bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    yield root, request.param
    shutil.rmtree(root, ignore_errors=True)


def run_on_gradescope(gradescope: tuple[Path, str], submission: Path) -> dict:
    """Place ``submission`` where Gradescope puts uploads, run run_autograder in the setting, return results.json."""
    root, setting = gradescope
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission", symlinks=True)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "PYTHONPATH": str(root / "source")}
    run = subprocess.run(in_setting(["bash", str(root / "run_autograder")], setting), env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"rootdir: {root / 'source'}" in run.stdout, "the bundle's own copy of the package should grade"
    return json.loads((root / "results" / "results.json").read_text())


def test_the_gradescope_bundle_gives_the_reference_full_marks(gradescope):
    """run_autograder, in Gradescope's layout, grades the reference with every point, reference checks included."""
    results = run_on_gradescope(gradescope, REFERENCE_DIR)
    assert results["score"] == results["max_score"] > 0
    assert not [t for t in results["tests"] if t["output"].startswith("Not checked")]


def test_the_gradescope_results_say_how_student_code_was_confined(gradescope):
    """Gradescope shows results.json's output: under Docker's defaults, a user of its own."""
    results = run_on_gradescope(gradescope, RELEASE_DIR)
    expected = {"namespaces": "confined (namespaces)", "docker-like": "confined (user)"}[gradescope[1]]
    assert expected in results["output"] and results["output_format"] == "text"


@pytest.mark.parametrize("name", ["read_the_reference_solutions", "kill_the_grader",
                                  "background_process_edits_the_results_later"])
def test_the_gradescope_bundle_holds_against_a_hostile_submission(gradescope, tmp_path, name):
    """A submission that copies the bundle's reference, kills the grader or rewrites results later earns its honest score."""
    root = gradescope[0]
    attack = ATTACKS[name]
    submission = hostile_submission(name, attack, tmp_path / "upload", port=9)
    notebook = submission / attack.notebook
    notebook.write_text(notebook.read_text()
                        .replace(str(REFERENCE_DIR), str(root / "source" / "solutions" / ASSIGNMENT_ID))
                        .replace(str(tmp_path / "results.json"), str(root / "results" / "results.json")))
    results = run_on_gradescope(gradescope, submission)
    time.sleep(4)  # longer than a background process waits before it writes
    assert json.loads((root / "results" / "results.json").read_text()) == results
    assert results["score"] <= attack.honest_score


def test_the_gradescope_bundle_takes_links_out_of_a_submission(gradescope, tmp_path):
    """Notebooks uploaded as links to the bundle's reference are removed before grading and earn nothing."""
    root = gradescope[0]
    upload = tmp_path / "upload"
    upload.mkdir()
    for name in GRADED_NAMES:
        (upload / name).symlink_to(root / "source" / "solutions" / ASSIGNMENT_ID / name)
    assert run_on_gradescope(gradescope, upload)["score"] == 0
