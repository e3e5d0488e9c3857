"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and this package with the reference.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds
the image, then ``run_autograder`` for each submission, with the student's files in
``/autograder/submission``; the grades go to ``/autograder/results/results.json``. The
reference notebooks travel in the bundle; the worker that runs student code cannot see
them where the sandbox is in force (``results.json``'s output says whether it was).
"""

import zipfile
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, REPO_ROOT
from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv util-linux
python3 -m venv /autograder/venv
# The CPU build of torch: Gradescope has no GPU, and the default build is several GB.
/autograder/venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -e /autograder/source
# Grade the reference once, so that its replies are cached and grading a student needs no
# second process (time, and memory in a 768 MB container). Kept only where the sandbox works.
/autograder/venv/bin/python -m autograder grade /autograder/source/solutions/{assignment} -q || true
""".format(assignment=ASSIGNMENT_ID)

RUN = f"""\
#!/usr/bin/env bash
# Gradescope runs this for each submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON override
# /autograder and the bundle's Python, to try the bundle elsewhere.
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/venv/bin/python}}"
mkdir -p "$root/results"
cd "$root/source"
"$python" -m autograder grade "$root/submission" --results "$root/results/results.json" \\
    --reference "$root/source/solutions/{ASSIGNMENT_ID}"
# Failed checks are grades, not errors: Gradescope reads results.json either way.
test -s "$root/results/results.json"
"""


def bundle_files() -> dict[str, Path]:
    """Name in the zip -> file on disk: the package, its pyproject and README, the reference notebooks."""
    files = {f"autograder/{path.relative_to(PACKAGE_DIR).as_posix()}": path for path in GRADER_FILES}
    files.update({name: REPO_ROOT / name for name in ("pyproject.toml", "README.md")})
    files.update({f"solutions/{ASSIGNMENT_ID}/{path.name}": path for path in sorted(REFERENCE_DIR.glob("*.ipynb"))})
    return files


def build_bundle(out: Path) -> None:
    """Write the bundle to ``out``: ``setup.sh`` and ``run_autograder`` at the top, as Gradescope wants."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            bundle.writestr(info, text)
        for name, path in bundle_files().items():
            bundle.write(path, name)
