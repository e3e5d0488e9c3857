"""What a student receives where the course does not use nbgrader's exchange: a folder or a zip, with no answers.

It holds the released notebooks (``assignments/<id>/``), the whole ``autograder`` package with the
``pyproject.toml`` that installs it, and the documentation's page for students (``docs/students.md``)
as its README. Nothing of ``solutions/`` and no reference replies: the files are listed one by one,
never copied as a tree, so nothing new in the repository slips in. The layout is the repository's
own, because the package finds the notebooks relative to itself (``contract.RELEASE_DIR``):
``pytest autograder/`` from the bundle's root grades ``assignments/<id>/``, and the checks against
the reference are left for the instructor's grading.
"""

import shutil
import stat
import zipfile
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, RELEASE_DIR, REPO_ROOT
from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR

# The students' page of the documentation is the bundle's README: one text for students, wherever they read it.
STUDENTS_PAGE = REPO_ROOT / "docs" / "students.md"
# Every file is readable by everyone, as the repository's own are: a course's TAs and a shared hub read bundles.
FILE_MODE = 0o644


def bundle_files() -> dict[str, Path]:
    """Name in the bundle -> file on disk: the students' page, the package, what installs it, the released notebooks."""
    files = {"README.md": STUDENTS_PAGE}
    files.update({f"autograder/{path.relative_to(PACKAGE_DIR).as_posix()}": path for path in GRADER_FILES})
    files["pyproject.toml"] = REPO_ROOT / "pyproject.toml"
    files.update({f"assignments/{ASSIGNMENT_ID}/{path.name}": path for path in sorted(RELEASE_DIR.glob("*.ipynb"))})
    return files


def build_student_bundle(out: Path) -> None:
    """Write the bundle to ``out``: a zip (one folder named after it inside) if it ends in ``.zip``, else a folder.

    Raises FileExistsError where ``out`` is a folder that is not empty, rather than mixing bundles.
    """
    files = bundle_files()
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, path in files.items():
                # The mode is set, not taken from disk: a checkout made under umask 077 must not give students
                # files their TAs cannot read.
                info = zipfile.ZipInfo.from_file(path, f"{out.stem}/{name}")
                info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())
        return
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / name)
        (out / name).chmod(FILE_MODE)
