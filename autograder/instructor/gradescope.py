"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and this package with the reference.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds
the image, then ``run_autograder`` for each submission, with the student's files in
``/autograder/submission``; the grades go to ``/autograder/results/results.json``. The
reference notebooks travel in the bundle, readable by root only: Docker refuses new
namespaces, so the worker that runs student code runs as a user of its own
(``results.json``'s output says how it was confined).
"""

import zipfile
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, REPO_ROOT
from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR

# The grading install's lock (requirements/refresh makes it), and where torch's CPU builds are published.
LOCK = "requirements/grading.txt"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

SETUP = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. Any failure stops the build.
# AUTOGRADER_ROOT overrides /autograder, to try the bundle elsewhere.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
# The lock is for CPython 3.11 (Ubuntu 22.04's python3.11, Debian 12's python3); setpriv and unshare confine the
# worker. Where the image already has them, nothing is installed.
if ! {{ command -v python3.11 && command -v setpriv && command -v unshare && python3.11 -c "import ensurepip"; }} \\
        >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv util-linux
fi
python3.11 -m venv "$root/venv"
# Exactly the environment the bundle was tested with, every file checked against the lock's hashes: a grade must
# not depend on the image's build date. torch is the lock's CPU build (Gradescope has no GPU; the default build
# is several GB), from PyTorch's own index.
"$root/venv/bin/pip" install --require-hashes --no-deps -r "$root/source/{LOCK}" \\
    --extra-index-url {TORCH_INDEX}
# The package alone, for grading, and nothing more fetched: its build backend is in the lock.
"$root/venv/bin/pip" install --no-deps --no-build-isolation "$root/source"
# A bundle that cannot give the reference full marks here fails now, not on the first student.
reference_results="$(mktemp)"
"$root/venv/bin/python" -m autograder grade "$root/source/solutions/{ASSIGNMENT_ID}" -q \\
    --results "$reference_results" --require-confinement
"$root/venv/bin/python" -c "import json, sys; r = json.load(open(sys.argv[1])); \\
sys.exit(0 if r['score'] == r['max_score'] > 0 else 'the reference did not get full marks')" "$reference_results"
"""

RUN = f"""\
#!/usr/bin/env bash
# Gradescope runs this for each submission, as root in a container that refuses new namespaces,
# so student code runs as a user of its own. AUTOGRADER_ROOT and AUTOGRADER_PYTHON override
# /autograder and the bundle's Python, to try the bundle elsewhere.
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/venv/bin/python}}"
results="$root/results/results.json"
mkdir -p "$root/results"
rm -f "$results"
# A submission is files: a link (to the bundle's solutions, to a system file) is taken away first.
find "$root/submission" -type l -delete
# Only root may read the reference, and nobody else may change the grader.
chmod -R go-rwx "$root/source/solutions"
chmod -R go-w "$root/source"
cd "$root/source"
"$python" -m autograder grade "$root/submission" --results "$results" \\
    --reference "$root/source/solutions/{ASSIGNMENT_ID}" --require-confinement
status=$?
# Failed checks are grades (exit code 1); any other ending leaves no grade to trust.
if [ "$status" -gt 1 ] || [ ! -s "$results" ]; then
    rm -f "$results"
    echo "The autograder did not finish (exit code $status); no grade was recorded." >&2
    exit 1
fi
"""


def bundle_files() -> dict[str, Path]:
    """Name in the zip -> file on disk: the package, its pyproject, README and lock, the reference notebooks."""
    files = {f"autograder/{path.relative_to(PACKAGE_DIR).as_posix()}": path for path in GRADER_FILES}
    files.update({name: REPO_ROOT / name for name in ("pyproject.toml", "README.md", LOCK)})
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
