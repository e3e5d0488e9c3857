"""The instructor's CI workflow, which cannot run here: valid for GitHub, its shell steps sound, installing the lock.

What is checked: the workflow against GitHub's workflow schema (check-jsonschema's copy of SchemaStore's, no
network), each ``run:`` step with ``bash -n``, and what it installs and runs. What is not: a run on GitHub itself.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.contract import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "tests.yml"
CI_RUN = REPO_ROOT / ".ci" / "run"
# The lock's install, as the README gives it: every file checked against its hash, nothing beyond the lock.
LOCK_INSTALL = "pip install --require-hashes --no-deps -r requirements/ci.txt"
PACKAGE_INSTALL = "pip install --no-deps --no-build-isolation -e ."
TEST_COMMAND = "pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15"


# A job without `runs-on`: a workflow GitHub refuses, which the schema check must refuse too.
BROKEN = ("runs-on: ubuntu-latest", "run-on: ubuntu-latest")


@pytest.fixture(scope="module")
def schema_errors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """check-jsonschema, against its built-in copy of GitHub's workflow schema, of the workflow and of a broken copy
    of it, in one run (each run costs seconds): the copy, and {file: what was wrong with it} for each file refused."""
    broken = tmp_path_factory.mktemp("workflow") / "tests.yml"
    broken.write_text(WORKFLOW.read_text().replace(*BROKEN))
    check = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                            "--output-format", "json", str(WORKFLOW), str(broken)],
                           capture_output=True, text=True, timeout=120)
    report = json.loads(check.stdout)
    errors: dict[str, list[str]] = {}
    for error in report["errors"] + report["parse_errors"]:
        errors.setdefault(error["filename"], []).append(error.get("best_deep_match", error)["message"])
    return broken, errors


def run_steps() -> list[str]:
    """The shell script of every ``run:`` step of every job, in order."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return [step["run"] for job in jobs for step in job["steps"] if "run" in step]


def test_the_workflow_is_valid_against_githubs_schema(schema_errors: tuple[Path, dict[str, list[str]]]) -> None:
    """The workflow passes GitHub's workflow schema: its keys, events, jobs and steps are ones GitHub knows."""
    assert schema_errors[1].get(str(WORKFLOW)) is None


def test_the_schema_check_refuses_a_broken_workflow(schema_errors: tuple[Path, dict[str, list[str]]]) -> None:
    """A job without `runs-on` fails the same check, so the check above can fail."""
    broken, errors = schema_errors
    assert errors.get(str(broken)) == ["'runs-on' is a required property"]


@pytest.mark.parametrize("index", range(len(run_steps())))
def test_every_run_step_is_valid_bash(index: int) -> None:
    """Each `run:` step parses as bash (the runner's shell), so no step fails on a typo of quoting or a stray `fi`."""
    parse = subprocess.run(["bash", "-n"], input=run_steps()[index], capture_output=True, text=True, timeout=60)
    assert parse.returncode == 0, parse.stderr


def test_the_workflow_installs_from_the_lock() -> None:
    """The workflow installs requirements/ci.txt with its hashes, then the package with nothing more."""
    script = "\n".join(run_steps())
    assert LOCK_INSTALL in script and PACKAGE_INSTALL in script
    assert 'pip install -e ".' not in script  # no install from pyproject.toml's ranges


def test_the_workflow_installs_no_browser_with_apt() -> None:
    """No step calls apt: the runner image's Chromium and ChromeDriver are used (Debian's package names are not
    Ubuntu's, and an install without `apt-get update` fails)."""
    assert not [script for script in run_steps() if "apt-get" in script or "apt install" in script]


def test_the_workflow_runs_the_readmes_test_command() -> None:
    """The workflow's last step runs the README's test command."""
    assert TEST_COMMAND in run_steps()[-1]


def test_ci_run_installs_from_the_lock() -> None:
    """.ci/run installs requirements/ci.txt with its hashes, then the package with nothing more."""
    script = CI_RUN.read_text()
    assert LOCK_INSTALL in script and PACKAGE_INSTALL in script
