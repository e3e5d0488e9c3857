"""What a grade depends on besides the submission, as digests: the reference and the grader's own files."""

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The files whose contents decide a grade, besides the submission and the reference: the whole package.
GRADER_FILES = sorted(path for path in PACKAGE_DIR.rglob("*")
                      if path.is_file() and path.suffix in (".py", ".sh") and "__pycache__" not in path.parts)


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
