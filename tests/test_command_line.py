"""The commands' help, what a grading leaves in the folder it is run from, and where a student's check may keep its
warm checker (without grading a submission)."""

import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from autograder.boundary.reference import LocalSubmission
from autograder.contract import REFERENCE_DIR
from autograder import launch
from autograder.suite import probes
from autograder.suite.data import IRIS_SIZES, iris_split, mlp_parameter_shapes, random_parameters


def test_grade_help_lists_the_options_the_readme_names():
    """`grade --help` shows the grader's options an instructor passes: results, part, sandbox and the limits."""
    shown = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], capture_output=True, text=True,
                           timeout=120).stdout
    for option in ("--results", "--part", "--sandbox", "--call-timeout", "--training-timeout", "--submission-timeout",
                   "--memory-limit", "--reply-limit", "--allow-unconfined"):
        assert option in shown, option


def test_the_reference_leaves_no_file_in_the_working_folder(tmp_path, monkeypatch):
    """The reference's probes, which run in the grader's own process, write their files in a temporary folder they
    remove, not under the folder grading is run from."""
    monkeypatch.chdir(tmp_path)
    state = random_parameters(mlp_parameter_shapes(**IRIS_SIZES), seed=1)
    file = io.BytesIO()
    torch.save(state, file)
    reference = LocalSubmission(REFERENCE_DIR)
    reference.run(probes.load_parameters_from_file, file=file.getvalue(), X=iris_split().X_test)
    reference.run(probes.saved_model_file, state=state)
    assert list(tmp_path.iterdir()) == []


def test_a_tmpdir_too_deep_for_a_socket_gets_no_warm_checker(tmp_path, monkeypatch):
    """Where the checker's socket path would pass the kernel's limit, checks grade in a fresh process (no folder);
    a short TMPDIR gets a folder only its user may enter."""
    deep = tmp_path / ("d" * launch.SOCKET_PATH_BYTES)
    deep.mkdir()
    short = Path(tempfile.mkdtemp(prefix="autograder-test-"))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(deep))
        assert launch.checker_folder() is None
        monkeypatch.setattr(tempfile, "tempdir", str(short))
        folder = launch.checker_folder()
        assert folder is not None and folder.parent == short and folder.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(short)
