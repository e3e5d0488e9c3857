"""How every command of this package grades: ``pytest`` on the package's graded tests, in a new process."""

import os
import sys
from pathlib import Path

from autograder.fingerprint import PACKAGE_DIR

# No cache folder beside the package; no hunt for unraisable exceptions at exit (three full
# garbage collections, 0.3 s): no student code runs in the grader's process.
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception")
# Exit codes of a grading run that got to the end: 0 every check passed, 1 some failed.
COMPLETED = (0, 1)
# The environment variables a grading run keeps: where programs, Python's packages, libraries,
# GPUs, caches and temporary files are. Nothing else of the caller's (tokens, keys) reaches a
# process that student code is forked from.
GRADER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
                      "CUDA_VISIBLE_DEVICES", "XDG_CACHE_HOME", "MPLCONFIGDIR")


def grader_arguments(submission: Path, results: Path | None, *options: str) -> list[str]:
    """pytest's arguments that grade the notebooks in ``submission``, from any working directory.

    They are ``autograder/ --submission DIR`` with the package's own folder spelled out, so an
    installed copy grades exactly as the repository's does.
    """
    arguments = [str(PACKAGE_DIR), *PYTEST_OPTIONS, "--submission", str(submission)]
    if results is not None:
        arguments += ["--results", str(results)]
    return arguments + list(options)


def grader_command(submission: Path, results: Path | None, *options: str) -> list[str]:
    """The command line that grades the notebooks in ``submission``: ``pytest`` with ``grader_arguments``."""
    return [sys.executable, "-m", "autograder.instructor.quick_exit_pytest",
            *grader_arguments(submission, results, *options)]


def grader_environment() -> dict[str, str]:
    """The environment to start a grading run in: the caller's, but only ``GRADER_ENVIRONMENT``."""
    return {name: os.environ[name] for name in GRADER_ENVIRONMENT if name in os.environ}
