"""How every command of this package grades: ``pytest`` on the package's graded tests, in a new process."""

import hashlib
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The files whose contents decide a grade, besides the submission and the reference.
GRADER_FILES = sorted([*PACKAGE_DIR.glob("*.py"), PACKAGE_DIR / "sandbox.sh"])

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
    command = [sys.executable, "-m", "autograder.quick_exit_pytest", str(PACKAGE_DIR), *PYTEST_OPTIONS,
               "--submission", str(submission)]
    if results is not None:
        command += ["--results", str(results)]
    return command + list(options)


def files_under(folder: Path) -> list[Path]:
    """Every file under ``folder``, sorted; none if it is not a folder."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def digest_files(files: list[Path], root: Path, label: str, digest: "hashlib._Hash") -> None:
    """Add each file's path under ``root`` (tagged with ``label``) and contents to ``digest``."""
    for path in files:
        digest.update(f"{label}/{path.relative_to(root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def grader_digest(reference: Path) -> "hashlib._Hash":
    """A digest of what every grade depends on besides the submission: the reference and the grader's code."""
    digest = hashlib.sha256()
    digest_files(files_under(reference), reference, "reference", digest)
    digest_files(GRADER_FILES, PACKAGE_DIR, "grader", digest)
    return digest
