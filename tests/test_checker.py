"""A student's warm checker grades as a fresh process does, sees every save, and outlives neither its idle
limit nor its session.

Each test gets a temporary folder of its own as TMPDIR, so its checker (whose socket lives in
``$TMPDIR/autograder-checker-<uid>/``) is its own, and no test shares or stops another's. The folder is
made in the system's temporary folder, not in pytest's deeper ``tmp_path``: a Unix socket's path must
fit in about 100 bytes, and where it cannot, a check grades in a fresh process instead.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.contract import REFERENCE_DIR, RELEASE_DIR
from autograder.slot import listening
from tests.test_hostile_submissions import ATTACKS, hostile_submission

pytestmark = pytest.mark.slow

# How long a test lets a checker wait idle; and how long after that it must be gone.
IDLE_SECONDS = 3
GRACE_SECONDS = 10


def environment(scratch: Path, checker: str) -> dict[str, str]:
    """The environment of a student's command: ``scratch`` as TMPDIR, and AUTOGRADER_CHECKER as given."""
    return {**os.environ, "TMPDIR": str(scratch), "AUTOGRADER_CHECKER": checker}


def checkers(scratch: Path) -> list[int]:
    """The pids of the warm checkers serving the TMPDIR ``scratch``."""
    found = subprocess.run(["pgrep", "-f", f"autograder.slot --serve {scratch}/"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def check(folder: Path, results: Path, env: dict[str, str], *start: str) -> subprocess.CompletedProcess:
    """``python -m autograder check FOLDER --results RESULTS``, started through ``start`` (e.g. setsid)."""
    return subprocess.run([*start, sys.executable, "-m", "autograder", "check", str(folder), "--results", str(results)],
                          env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def by_check(results: Path) -> dict[str, tuple[str, float, str]]:
    """Each check of a results.json: its status, score and output."""
    return {t["test"]: (t["status"], t["score"], t["output"]) for t in json.loads(results.read_text())["tests"]}


def partial(folder: Path) -> Path:
    """The reference with a softmax that overflows (no shift by the max) and relu left as the stub."""
    shutil.copytree(REFERENCE_DIR, folder)
    path = folder / "03_activations.ipynb"
    path.write_text(path.read_text().replace("z - z.amax(dim=dim, keepdim=True).detach()", "z")
                    .replace("return torch.where(z > 0, z, torch.zeros_like(z))", "raise NotImplementedError()"))
    return folder


@pytest.fixture
def scratch() -> Iterator[Path]:
    """The test's own TMPDIR, short enough for a socket's path; whatever its checker leaves running is ended after."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-test-"))
    yield folder
    for pid in checkers(folder):
        os.kill(pid, 9)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def submissions(tmp_path: Path) -> dict[str, Path]:
    """A full, a partial, a stub and a hostile submission (one that kills what it can reach)."""
    return {
        "full": Path(shutil.copytree(REFERENCE_DIR, tmp_path / "full")),
        "partial": partial(tmp_path / "partial"),
        "stub": Path(shutil.copytree(RELEASE_DIR, tmp_path / "stub")),
        "hostile": hostile_submission("kill_the_grader", ATTACKS["kill_the_grader"], tmp_path / "hostile", 9),
    }


def test_a_warm_check_gives_the_results_of_a_fresh_one(tmp_path, scratch, submissions):
    """Check by check, the warm checker's results are a fresh process's, for full, partial, stub and hostile work."""
    warm, fresh = environment(scratch, str(IDLE_SECONDS * 20)), environment(scratch, "off")
    for name, folder in submissions.items():
        warm_run = check(folder, tmp_path / f"{name}-warm.json", warm)
        fresh_run = check(folder, tmp_path / f"{name}-fresh.json", fresh)
        assert warm_run.returncode == fresh_run.returncode, (name, warm_run.stdout[-2000:], fresh_run.stdout[-2000:])
        assert by_check(tmp_path / f"{name}-warm.json") == by_check(tmp_path / f"{name}-fresh.json"), name
    assert checkers(scratch), "the warm checks did not go through a warm checker"


def test_a_check_after_the_notebook_is_saved_again_grades_the_new_file(tmp_path, scratch):
    """The warm checker grades the notebook as it is saved now, not as it was at the last check."""
    folder = Path(shutil.copytree(RELEASE_DIR, tmp_path / "work"))
    env = environment(scratch, str(IDLE_SECONDS * 20))
    check(folder, tmp_path / "before.json", env)
    path = folder / "03_activations.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(new_code_cell("def relu(z):\n    return torch.where(z > 0, z, torch.zeros_like(z))\n"))
    nbformat.write(notebook, path)
    check(folder, tmp_path / "after.json", env)
    before, after = (json.loads((tmp_path / name).read_text())["tests"] for name in ("before.json", "after.json"))
    relu_before, relu_after = ([t for t in tests if t["extra_data"]["checks"] == "relu"] for tests in (before, after))
    assert sum(t["score"] for t in relu_before) == 0
    assert all(t["status"] == "passed" for t in relu_after), [t["output"][:200] for t in relu_after]


def test_the_checker_ends_when_idle(tmp_path, scratch):
    """A warm checker left alone for its idle limit ends, with nothing of it left."""
    env = environment(scratch, str(IDLE_SECONDS))
    check(Path(shutil.copytree(RELEASE_DIR, tmp_path / "work")), tmp_path / "results.json", env)
    assert checkers(scratch), "no warm checker was started"
    deadline = time.monotonic() + IDLE_SECONDS + GRACE_SECONDS
    while checkers(scratch) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not checkers(scratch)
    assert not list(scratch.glob("autograder-checker-*/*.sock"))


def test_a_checker_ended_by_sigterm_leaves_no_socket(tmp_path, scratch):
    """A warm checker sent SIGTERM (as a hub stops a user's server) ends and removes its socket, so the next check
    starts a new one rather than finding a dead socket."""
    env = environment(scratch, "600")
    check(Path(shutil.copytree(RELEASE_DIR, tmp_path / "work")), tmp_path / "results.json", env)
    [pid] = checkers(scratch)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while checkers(scratch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not checkers(scratch)
    assert not list(scratch.glob("autograder-checker-*/*.sock"))


def test_the_checker_ends_with_the_session_that_started_it(tmp_path, scratch):
    """A warm checker started from a session (a terminal, a kernel) ends when that session's leader does."""
    env = environment(scratch, "600")
    folder = Path(shutil.copytree(RELEASE_DIR, tmp_path / "work"))
    # setsid makes the check the leader of a session of its own, which ends when the check does.
    check(folder, tmp_path / "results.json", env, "setsid", "--wait")
    deadline = time.monotonic() + GRACE_SECONDS
    while checkers(scratch) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not checkers(scratch)


def test_a_checker_of_another_grader_is_replaced(tmp_path, scratch):
    """A checker that serves another version of the grader ends when asked, and the check is graded anyway."""
    env = environment(scratch, "600")
    folder = scratch / f"autograder-checker-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True)
    stale = serve(folder / "checker.sock", "another grader", env)
    try:
        wait_until(lambda: (folder / "checker.sock").exists())
        run = check(Path(shutil.copytree(RELEASE_DIR, tmp_path / "work")), tmp_path / "results.json", env)
        assert run.returncode == 1 and (tmp_path / "results.json").is_file(), run.stdout[-2000:] + run.stderr[-2000:]
        assert stale.wait(timeout=GRACE_SECONDS) == 0
    finally:
        stale.kill()


def test_checkers_started_at_the_same_moment_leave_one_serving(scratch):
    """Two checkers started at once on one socket: one ends within seconds, the other answers on the socket."""
    env = environment(scratch, "600")
    folder = scratch / f"autograder-checker-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True)
    both = [serve(folder / "checker.sock", "a grader", env) for _ in range(2)]
    try:
        wait_until(lambda: sum(checker.poll() is None for checker in both) == 1, seconds=120)
        assert listening(folder / "checker.sock")
    finally:
        for checker in both:
            checker.kill()


def serve(path: Path, digest: str, env: dict[str, str]) -> subprocess.Popen:
    """A warm checker of the grader ``digest`` on the socket ``path``, idle for up to ten minutes."""
    return subprocess.Popen([sys.executable, "-m", "autograder.slot", "--serve", str(path), "--digest", digest,
                             "--idle", "600"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Wait until ``condition()`` holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.2)


def test_watch_checks_again_on_save_and_says_only_what_changed(tmp_path, scratch):
    """`check --watch` prints the feedback once, then, after the notebook is saved, the checks it fixed and the score."""
    folder = Path(shutil.copytree(RELEASE_DIR, tmp_path / "work"))
    notebook = folder / "03_activations.ipynb"
    log = tmp_path / "watch.txt"
    with open(log, "w") as output:
        # Ctrl-C as from a terminal, even where this test runs in a process whose children ignore SIGINT (xdist's).
        watching = subprocess.Popen([sys.executable, "-m", "autograder", "check", str(notebook), "--watch"],
                                    env=environment(scratch, "60"), stdout=output, stderr=subprocess.STDOUT,
                                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(log, "not implemented yet")
        saved = nbformat.read(notebook, as_version=4)
        saved.cells.append(new_code_cell("def relu(z):\n    return torch.where(z > 0, z, torch.zeros_like(z))\n"))
        nbformat.write(saved, notebook)
        wait_for(log, "score: 0 → ")
    finally:
        watching.send_signal(signal.SIGINT)
        watching.wait(timeout=30)
    after = log.read_text().split("score: 0 → ")[0].rsplit("[", 1)[-1]
    assert "✓ fixed: relu" in after and "not implemented yet" not in after, log.read_text()


def wait_for(log: Path, text: str, seconds: float = 300) -> None:
    """Wait until ``text`` is in the file ``log``."""
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
