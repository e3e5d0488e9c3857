"""How every command of this package grades: ``pytest`` on the package's graded tests, in a new process."""

import sys
from pathlib import Path

from autograder.fingerprint import PACKAGE_DIR

# No cache folder beside the package; no hunt for unraisable exceptions at exit (three full
# garbage collections, 0.3 s): no student code runs in the grader's process.
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception")
# Exit codes of a grading run that got to the end: 0 every check passed, 1 some failed.
COMPLETED = (0, 1)


def grader_command(submission: Path, results: Path | None, *options: str) -> list[str]:
    """The command line that grades the notebooks in ``submission``, from any working directory.

    It is ``pytest autograder/ --submission DIR`` with the package's own folder spelled out,
    so an installed copy grades exactly as the repository's does.
    """
    command = [sys.executable, "-m", "autograder.instructor.quick_exit_pytest", str(PACKAGE_DIR), *PYTEST_OPTIONS,
               "--submission", str(submission)]
    if results is not None:
        command += ["--results", str(results)]
    return command + list(options)
