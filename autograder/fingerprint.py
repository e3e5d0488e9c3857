"""What a grade depends on besides the submission, as digests: the reference and the grader's own files."""

import functools
import hashlib
import importlib.metadata
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID

PACKAGE_DIR = Path(__file__).resolve().parent
# The files whose contents decide a grade, besides the submission and the reference: the whole package.
GRADER_FILES = sorted(path for path in PACKAGE_DIR.rglob("*")
                      if path.is_file() and path.suffix in (".py", ".sh") and "__pycache__" not in path.parts)


def files_under(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, sorted, never through a link (a submission's link may point anywhere)."""
    found = []
    for parent, _, names in os.walk(folder):  # os.walk does not follow links to folders
        found += [path for path in map(Path(parent).joinpath, names) if stat.S_ISREG(path.lstat().st_mode)]
    return sorted(found)


def digest_files(files: list[Path], root: Path, label: str, digest: "hashlib._Hash") -> None:
    """Add each file's path under ``root`` (tagged with ``label``) and contents to ``digest``, a block at a time."""
    for path in files:
        digest.update(f"{label}/{path.relative_to(root).as_posix()}\0".encode())
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())


def grader_digest(reference: Path) -> "hashlib._Hash":
    """A digest of what every grade depends on besides the submission: the reference and the grader's code."""
    digest = hashlib.sha256()
    digest_files(files_under(reference), reference, "reference", digest)
    digest_files(GRADER_FILES, PACKAGE_DIR, "grader", digest)
    return digest


# The package as pip knows it, for the grader's version in the feedback's header.
DISTRIBUTION = "pytorch-nn-assignment"


@functools.cache
def grader_name() -> str:
    """The grader's distribution, version and a digest of its files; computed once per process (a job slot computes
    it before it forks its gradings: its code, imported already, is what they run)."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # a copy of the package that was not pip-installed
        version = "unknown version"
    digest = hashlib.sha256()
    digest_files(GRADER_FILES, PACKAGE_DIR, "grader", digest)
    # The digest tells apart two graders of one version number, e.g. before and after a fix.
    return f"{DISTRIBUTION} {version} ({digest.hexdigest()[:10]})"


def grading_facts() -> dict[str, str]:
    """What a feedback page's header says of this grading: the assignment, when, and which grader."""
    return {
        "assignment": ASSIGNMENT_ID,
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "grader": grader_name(),
    }
