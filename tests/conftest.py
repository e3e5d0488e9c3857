"""Fixtures for the package's own tests: the repository's folders and a real grading run."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.contract import REFERENCE_DIR, RELEASE_DIR, REPO_ROOT


@dataclass
class GradingRun:
    """What ``pytest autograder/`` printed, its exit code, and the results file it wrote."""

    stdout: str
    returncode: int
    results: dict


def run_grader(submission: Path, results: Path, *options: str) -> GradingRun:
    """Grade ``submission`` the way a student or instructor does: ``pytest autograder/`` in a new process."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder/", "-p", "no:cacheprovider",
         "--submission", str(submission), "--results", str(results), *options],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    return GradingRun(completed.stdout + completed.stderr, completed.returncode, json.loads(results.read_text()))


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
