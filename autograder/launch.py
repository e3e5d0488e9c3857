"""How every command of this package grades: ``pytest`` on the package's graded tests, in a new process."""

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The files whose contents decide a grade, besides the submission and the reference.
GRADER_FILES = sorted([*PACKAGE_DIR.glob("*.py"), PACKAGE_DIR / "sandbox.sh"])

# Exit codes of a grading run that got to the end: 0 every check passed, 1 some failed.
COMPLETED = (0, 1)


def grader_command(submission: Path, results: Path | None, *options: str) -> list[str]:
    """The command line that grades the notebooks in ``submission``, from any working directory.

    It is ``pytest autograder/ --submission DIR`` with the package's own folder spelled out,
    so an installed copy grades exactly as the repository's does.
    """
    command = [sys.executable, "-m", "pytest", str(PACKAGE_DIR), "-p", "no:cacheprovider",
               "--submission", str(submission)]
    if results is not None:
        command += ["--results", str(results)]
    return command + list(options)
