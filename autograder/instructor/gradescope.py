"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and this package with the reference.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds
the image, then ``run_autograder`` for each submission, with the student's files in
``/autograder/submission``; the grades go to ``/autograder/results/results.json``. The
reference notebooks travel in the bundle, readable by root only: Docker refuses new
namespaces, so the worker that runs student code runs as a user of its own
(``results.json``'s output says how it was confined).
"""

import importlib.metadata
import zipfile
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, REPO_ROOT
from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. Any failure stops the build.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv util-linux
python3 -m venv /autograder/venv
# The CPU build of the torch this bundle was made and tested with: Gradescope has no GPU, the default
# build is several GB, and a grade must not depend on which torch the image happened to get.
/autograder/venv/bin/pip install "torch=={torch}" --index-url https://download.pytorch.org/whl/cpu
# The package alone, for grading: not nbgrader's Jupyter stack, which only instructors' course tools need.
/autograder/venv/bin/pip install /autograder/source
# A bundle that cannot give the reference full marks here fails now, not on the first student.
/autograder/venv/bin/python -m autograder grade /autograder/source/solutions/{assignment} -q \\
    --results /tmp/reference-results.json --require-confinement
/autograder/venv/bin/python -c "import json, sys; r = json.load(open('/tmp/reference-results.json')); \\
sys.exit(0 if r['score'] == r['max_score'] > 0 else 'the reference did not get full marks')"
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
    """Name in the zip -> file on disk: the package, its pyproject and README, the reference notebooks."""
    files = {f"autograder/{path.relative_to(PACKAGE_DIR).as_posix()}": path for path in GRADER_FILES}
    files.update({name: REPO_ROOT / name for name in ("pyproject.toml", "README.md")})
    files.update({f"solutions/{ASSIGNMENT_ID}/{path.name}": path for path in sorted(REFERENCE_DIR.glob("*.ipynb"))})
    return files


def setup_script() -> str:
    """``setup.sh``, pinned to the version of torch installed here (without its local tag, such as ``+cpu``)."""
    torch = importlib.metadata.version("torch").split("+")[0]
    return SETUP.format(torch=torch, assignment=ASSIGNMENT_ID)


def build_bundle(out: Path) -> None:
    """Write the bundle to ``out``: ``setup.sh`` and ``run_autograder`` at the top, as Gradescope wants."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", setup_script()), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            bundle.writestr(info, text)
        for name, path in bundle_files().items():
            bundle.write(path, name)
