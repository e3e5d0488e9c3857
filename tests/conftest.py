"""Fixtures for the package's own tests: the repository's folders and a real grading run."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, RELEASE_DIR, REPO_ROOT, parts_of
from tests import docker_like


# How a test starts the grader: as CI does (root, where Linux namespaces are available), or as
# Gradescope's Docker container does (root without the capabilities and system calls that
# namespaces need; see tests/docker_like.py).
SETTINGS = ("namespaces", "docker-like")
# How often the grader's peak memory is read while it runs, in seconds.
MEMORY_POLL_SECONDS = 0.05
# How long a warm checker that a test's command started (a check, a grade cell) waits idle: a student's waits a
# quarter of an hour, which would leave it running long after the tests.
CHECKER_IDLE_SECONDS = "30"


@dataclass
class GradingRun:
    """What ``pytest autograder/`` printed, its exit code, the results file it wrote, and the grader's peak
    anonymous memory (MB; see ``run_measured``)."""

    stdout: str
    returncode: int
    results: dict
    peak_mb: float = 0.0


def in_setting(command: list[str], setting: str) -> list[str]:
    """``command`` as started in ``setting``: as it is, or Docker-like; skips where that setting cannot be had."""
    if setting == "namespaces":
        return command
    reason = docker_like.available()
    if reason is not None:
        pytest.skip(f"the Docker-like setting cannot be emulated here: {reason}")
    return docker_like.command(command)


def run_measured(command: list[str], timeout: float = 600, **popen: object) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command``; its output, and the peak anonymous resident memory of its own process (not its
    children's), in MB: what a reply could make it allocate. The pages of shared libraries are left out:
    they depend on the torch build (CUDA's libraries alone take some 350 MB), not on what is graded."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    peak_kb = 0
    with ThreadPoolExecutor(1) as pool:
        output = pool.submit(process.communicate, timeout=timeout)
        while process.poll() is None:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak_kb = max(peak_kb, int(status.split("RssAnon:")[1].split()[0]))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(MEMORY_POLL_SECONDS)
        stdout, _ = output.result()
    return subprocess.CompletedProcess(command, process.returncode, stdout, ""), peak_kb / 1024


def run_grader(submission: Path, results: Path, *options: str, setting: str = "namespaces") -> GradingRun:
    """Grade ``submission`` the way a student or instructor does: ``pytest autograder/`` in a new process."""
    command = [sys.executable, "-m", "pytest", "autograder/", "-p", "no:cacheprovider",
               "--submission", str(submission), "--results", str(results), *options]
    completed, peak_mb = run_measured(in_setting(command, setting), cwd=REPO_ROOT)
    return GradingRun(completed.stdout, completed.returncode, json.loads(results.read_text()), peak_mb)


def grade_class(root: Path, *options: str) -> dict[str, dict]:
    """Grade every submission under ``root / "submitted"`` (nbgrader's ``<student>/<assignment>/``) with
    ``grade-all``, as an instructor does, into ``root / "graded"``, passing ``options`` to each grading; each
    student's results."""
    command = [sys.executable, "-m", "autograder", "grade-all", str(root / "submitted"), "--out", str(root / "graded"),
               *options]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {folder.name: json.loads((folder / "results.json").read_text())
            for folder in (root / "graded").iterdir() if (folder / "results.json").is_file()}


def grade_by_notebook(root: Path, changed: dict[str, str], build: Callable[[str, Path], None]) -> dict[str, dict]:
    """Grade submissions that each differ from the reference in one notebook (``changed``: name to notebook) as one
    ``grade-all`` class per notebook, grading only that notebook's parts: the other parts are the reference's own,
    whose full marks ``reference_run`` shows. ``build(name, folder)`` writes one submission; each one's results."""
    results: dict[str, dict] = {}
    for notebook in sorted(set(changed.values())):
        group = root / Path(notebook).stem
        for name in sorted(name for name, where in changed.items() if where == notebook):
            build(name, group / "submitted" / name / ASSIGNMENT_ID)
        results |= grade_class(group, *(option for title in parts_of(notebook) for option in ("--part", title)))
    return results


# The test files that take minutes (each grades a class or more; `--durations` shows their set-ups), about
# longest first. With `--no-loadscope-reorder`, pytest-xdist hands them out first, so that the short files fill
# the end of the run instead of one long file running there alone. A file not named here runs after them.
LONGEST_FIRST = ("test_forgery", "test_hostile_class", "test_hostile_submissions", "test_mutants",
                 "test_student_bundle", "test_instructor_loop", "test_checker", "test_correct_variants",
                 "test_scratch_corpus", "test_commands", "test_lock", "test_class_report", "test_grading_runs",
                 "test_feedback_pages", "test_reference_notebooks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rpartition(".")[2], len(rank)))


@pytest.fixture(scope="session", autouse=True)
def short_lived_checkers() -> Iterator[None]:
    """Every command the tests start gives its warm checker a short idle limit, unless the test sets its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOGRADER_CHECKER", CHECKER_IDLE_SECONDS)
        yield


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> GradingRun:
    """The reference notebooks graded, as CI grades them."""
    return run_grader(REFERENCE_DIR, tmp_path_factory.mktemp("reference") / "results.json")


@pytest.fixture(scope="session")
def stub_run(tmp_path_factory: pytest.TempPathFactory) -> GradingRun:
    """The untouched student notebooks graded, as a student who has written nothing sees them."""
    return run_grader(RELEASE_DIR, tmp_path_factory.mktemp("stubs") / "results.json")


@pytest.fixture(scope="session")
def stub_run_without_reference(tmp_path_factory: pytest.TempPathFactory) -> GradingRun:
    """The untouched student notebooks graded where the reference solutions are absent."""
    directory = tmp_path_factory.mktemp("no_reference")
    return run_grader(RELEASE_DIR, directory / "results.json", "--reference", str(directory / "absent"))


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    """The environment with this interpreter's scripts (nbgrader, alembic) first on PATH."""
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
