"""What crosses the process boundary is bounded, and a submission's files are taken only as regular files."""

import io
import os
import socket
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch
from execnet import gateway_base
from nbformat.v4 import new_code_cell, new_notebook

from autograder.boundary.channel import HEADER, Channel, MessageRefused, ValueBudget
from autograder.boundary.confinement import unconfined
from autograder.boundary.trial import environment_paths
from autograder.boundary.isolation import Limits, RemoteSubmission
from autograder.boundary.notebook import MAX_NOTEBOOK_BYTES, read_notebooks, read_submitted_file
from autograder.boundary.zygote import SpawnedWorkers
from autograder.boundary.messages import MESSAGE_LIMIT, bounded
from autograder.fingerprint import files_under
from autograder.suite.checks import MAX_UNPACKED_BYTES, expect_tensor, load_weights_only

NOTEBOOK = "03_activations.ipynb"


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    """An empty submission folder."""
    folder = tmp_path / "submission"
    folder.mkdir()
    return folder


def test_a_message_loses_its_terminal_escapes_and_control_characters():
    """Escape sequences and control characters are removed; newlines and tabs stay."""
    assert bounded("\x1b[2J\x1b[1;32mAll passed\x1b[0m\x07\r\n\tnext") == "All passed\n\tnext"


def test_a_long_message_is_cut_to_the_limit_and_says_so():
    """A message longer than the limit keeps its beginning and says how much was cut."""
    message = bounded("x" * (MESSAGE_LIMIT + 500))
    assert message.startswith("x" * MESSAGE_LIMIT) and message.endswith("(500 more characters cut)")


def test_a_linked_notebook_is_refused_with_a_message(submission, tmp_path):
    """A notebook that is a symbolic link is not read; the message tells the student to submit the file itself."""
    target = tmp_path / "answers.ipynb"
    target.write_text("{}")
    (submission / NOTEBOOK).symlink_to(target)
    notebooks, problems = read_notebooks(submission)
    assert notebooks == {} and problems == {NOTEBOOK: f"{NOTEBOOK} is a symbolic link; submit the notebook itself."}


def test_a_notebook_that_is_not_a_regular_file_is_refused(submission):
    """A named pipe in a notebook's place is refused at once, not waited on."""
    os.mkfifo(submission / NOTEBOOK)
    notebooks, problems = read_notebooks(submission)
    assert notebooks == {} and "is not a regular file" in problems[NOTEBOOK]


def test_a_notebook_larger_than_the_limit_is_refused(submission):
    """A notebook above the size limit is not read into memory."""
    with open(submission / NOTEBOOK, "wb") as file:
        file.truncate(MAX_NOTEBOOK_BYTES + 1)
    notebooks, problems = read_notebooks(submission)
    assert notebooks == {} and "is larger than" in problems[NOTEBOOK]


def test_a_submitted_file_is_read_only_if_it_is_a_regular_file(submission, tmp_path):
    """nbgrader's timestamp.txt is read when it is a file, and not when it is a link to another file."""
    (submission / "timestamp.txt").write_text("2026-11-27 10:00:00")
    (tmp_path / "secret").write_text("secret")
    (submission / "submission_secret.txt").symlink_to(tmp_path / "secret")
    assert read_submitted_file(submission / "timestamp.txt") == b"2026-11-27 10:00:00"
    assert read_submitted_file(submission / "submission_secret.txt") is None


def test_fingerprinted_files_never_come_through_a_link(submission, tmp_path):
    """The files a class run hashes are the submission's own regular files, never a link's target."""
    (submission / NOTEBOOK).write_text("{}")
    (submission / "passwd").symlink_to("/etc/passwd")
    (submission / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    assert files_under(submission) == [submission / NOTEBOOK]


@pytest.fixture
def channel_pair():
    """A channel that reads at most 1024 bytes a message (the grader's end), and the other end's socket."""
    ours, theirs = socket.socketpair()
    yield Channel(ours, limit=1024), theirs
    ours.close()
    theirs.close()


def test_a_message_above_the_reply_limit_is_refused_from_its_header(channel_pair):
    """A worker's message larger than the limit is refused before its bytes are read."""
    grader, worker = channel_pair
    worker.sendall(HEADER.pack(10**9))  # a header announcing a gigabyte, and nothing after it
    with pytest.raises(MessageRefused) as refused:
        grader.receive(timeout=5)
    assert refused.value.size == 10**9


def test_a_message_within_the_reply_limit_is_read_whole(channel_pair):
    """A message within the limit arrives as it was sent."""
    grader, worker = channel_pair
    Channel(worker).send(("ok", b"hello"))
    assert grader.receive(timeout=5) == ("ok", b"hello")


def test_a_worker_that_says_nothing_times_out(channel_pair):
    """Waiting for a reply ends after the time given, with ``TimeoutError``."""
    grader, _ = channel_pair
    with pytest.raises(TimeoutError):
        grader.receive(timeout=0.2)


def test_a_tensor_of_the_wrong_shape_fails_before_any_comparison():
    """A returned tensor whose shape differs from the input's fails on its shape, whatever its size."""
    with pytest.raises(AssertionError, match=r"softmax should return a tensor of shape \(8,\), not \(40000,\)"):
        expect_tensor(torch.zeros(40_000), "softmax", (8,))


def test_a_saved_file_that_would_unpack_too_large_is_not_loaded():
    """A small zip whose entries declare more than a saved Iris model could need is refused before torch.load."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/0", b"\0" * (MAX_UNPACKED_BYTES + 1))
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ValueError, match="would unpack to"):
        load_weights_only(buffer.getvalue(), "The file from save_parameters")


def test_a_list_declaring_more_values_than_the_limit_is_refused_before_it_is_built(monkeypatch):
    """17 bytes declaring a list of 60 million values are refused, not allocated."""
    monkeypatch.setattr(ValueBudget, "max_values", 1000)
    newlist = gateway_base.opcode.NEWLIST + struct.pack("!i", 60_000_000)
    with pytest.raises(MessageRefused) as refused:
        gateway_base.loads_internal(newlist + gateway_base.opcode.STOP)
    assert refused.value.too_many_values


def test_a_message_of_more_values_than_the_limit_is_refused(monkeypatch):
    """A small message of many tiny values (empty dicts) is refused past the limit."""
    monkeypatch.setattr(ValueBudget, "max_values", 1000)
    many = gateway_base.dumps_internal(tuple({} for _ in range(5000)))
    with pytest.raises(MessageRefused):
        gateway_base.loads_internal(many)


def test_a_message_within_the_value_limit_is_rebuilt_as_sent(monkeypatch):
    """An honest reply (a dict of lists and bytes) comes back whole under the limit."""
    monkeypatch.setattr(ValueBudget, "max_values", 1000)
    reply = ("ok", {"loss": [0.5, 0.25], "state": {"__tensor__": ("float32", [2], b"\0" * 8)}})
    assert gateway_base.loads_internal(gateway_base.dumps_internal(reply)) == reply


def test_a_worker_spawned_where_python_cannot_fork_runs_the_students_function(submission):
    """Without fork (Windows), a worker started as a fresh Python calls back over loopback and answers a call."""
    notebook = new_notebook(cells=[new_code_cell("def relu(z):\n    return z.clamp(min=0)")])
    nbformat.write(notebook, submission / NOTEBOOK)
    workers = SpawnedWorkers()
    student = RemoteSubmission(submission, "student", Limits(), workers, unconfined("a test"), ())
    try:
        assert student.relu(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    finally:
        student.stop()
        workers.stop()


def test_the_new_root_holds_the_links_python_finds_its_modules_through(tmp_path, monkeypatch):
    """A module folder on sys.path reached through a link (a virtual environment behind one) is in the namespaces'
    new root twice: the folder itself, and the link by which Python names it."""
    (tmp_path / "real" / "site-packages").mkdir(parents=True)
    (tmp_path / "venv").symlink_to(tmp_path / "real")
    monkeypatch.syspath_prepend(str(tmp_path / "venv" / "site-packages"))
    paths = environment_paths([])
    assert str(tmp_path / "real" / "site-packages") in paths and str(tmp_path / "venv") in paths
