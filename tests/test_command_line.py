"""The commands' help, and what a grading leaves in the folder it is run from (without grading a submission)."""

import io
import subprocess
import sys

import torch

from autograder.boundary.isolation import LocalSubmission
from autograder.contract import REFERENCE_DIR
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
    reference.run(probes.saved_model_file, state=state, X=iris_split().X_test)
    assert list(tmp_path.iterdir()) == []
