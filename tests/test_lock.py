"""The lock files (requirements/) agree with pyproject.toml and with each other, and Gradescope's setup.sh installs one.

``grading.txt`` is what a grading machine installs (Gradescope's image), ``ci.txt`` the same at the same versions
plus the test extra (CI). Both are made by ``requirements/refresh`` (pip-tools' pip-compile); these tests fail when
an edit of ``pyproject.toml`` was not followed by a refresh.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograder.contract import REPO_ROOT
from autograder.instructor.gradescope import LOCK, SETUP, TORCH_INDEX, build_bundle

GRADING_LOCK = REPO_ROOT / LOCK
CI_LOCK = REPO_ROOT / "requirements" / "ci.txt"
CPU_TORCH = REPO_ROOT / "requirements" / "cpu-torch.txt"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "tests.yml"
CI_RUN = REPO_ROOT / ".ci" / "run"
# How pip-compile annotates a package that pyproject.toml asks for itself (not one pulled in by another package).
FROM_PYPROJECT = "pytorch-nn-assignment (pyproject.toml)"
FROM_BUILD_SYSTEM = "pytorch-nn-assignment (pyproject.toml::build-system.requires)"


@dataclass
class Pin:
    """One package of a lock: its version, how many file hashes it carries, and what asked for it."""

    version: str
    hashes: int
    via: set[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """A pip-compile output file as {canonical name: Pin}: ``name==version \\``, its ``--hash=`` lines, ``# via``."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if match := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            current = pins[canonicalize_name(match[1])] = Pin(match[2], 0, set())
        elif current is not None and stripped.startswith("--hash="):
            current.hashes += 1
        elif current is not None and stripped.startswith("# via "):
            current.via.add(stripped.removeprefix("# via ").strip())
        elif current is not None and stripped.startswith("#   "):
            current.via.add(stripped.removeprefix("#   ").strip())
    return pins


def pyproject() -> dict:
    """pyproject.toml, parsed."""
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def requirements(*extras: str) -> list[Requirement]:
    """pyproject.toml's dependencies, and those of the given extras."""
    project = pyproject()["project"]
    return [Requirement(text) for text in
            project["dependencies"] + [r for extra in extras for r in project["optional-dependencies"][extra]]]


def out_of_range(lock: dict[str, Pin], wanted: list[Requirement]) -> dict[str, str]:
    """Each requirement the lock leaves out or pins outside its range: {requirement: the lock's version or None}."""
    return {str(r): (lock[canonicalize_name(r.name)].version if canonicalize_name(r.name) in lock else "missing")
            for r in wanted
            if canonicalize_name(r.name) not in lock
            or not r.specifier.contains(lock[canonicalize_name(r.name)].version, prereleases=True)}


def asked_by_pyproject(lock: dict[str, Pin]) -> set[str]:
    """The packages the lock says pyproject.toml's own dependencies asked for."""
    return {name for name, pin in lock.items() if FROM_PYPROJECT in pin.via}


def lock_python(path: Path) -> str:
    """The Python version pip-compile resolved the lock for, from its header ("... with Python 3.11")."""
    return re.search(r"pip-compile with Python (\d+\.\d+)", path.read_text())[1]


def test_every_dependency_is_pinned_in_the_grading_lock_within_its_range() -> None:
    """Each of pyproject.toml's dependencies is in grading.txt, at a version its range allows."""
    assert out_of_range(read_lock(GRADING_LOCK), requirements()) == {}


def test_every_test_requirement_is_pinned_in_the_ci_lock_within_its_range() -> None:
    """Each dependency and each requirement of the test extra is in ci.txt, at a version its range allows."""
    assert out_of_range(read_lock(CI_LOCK), requirements("test")) == {}


def test_the_grading_lock_asks_for_nothing_pyproject_does_not() -> None:
    """The packages grading.txt names as pyproject.toml's are exactly pyproject.toml's dependencies."""
    assert asked_by_pyproject(read_lock(GRADING_LOCK)) == {canonicalize_name(r.name) for r in requirements()}


def test_the_ci_lock_asks_for_nothing_pyproject_does_not() -> None:
    """The packages ci.txt names as pyproject.toml's are exactly its dependencies and the test extra's."""
    assert asked_by_pyproject(read_lock(CI_LOCK)) == {canonicalize_name(r.name) for r in requirements("test")}


def test_the_ci_lock_holds_every_grading_package_at_the_grading_version() -> None:
    """CI tests the environment that grades: every package of grading.txt is in ci.txt at the same version."""
    grading, ci = read_lock(GRADING_LOCK), read_lock(CI_LOCK)
    differ = {name: pin.version for name, pin in grading.items() if name not in ci or ci[name].version != pin.version}
    assert differ == {}


def test_every_pin_has_a_hash() -> None:
    """Every package of both locks carries at least one file hash, so pip installs them with --require-hashes."""
    unhashed = [f"{lock.name}: {name}" for lock in (GRADING_LOCK, CI_LOCK)
                for name, pin in read_lock(lock).items() if pin.hashes == 0]
    assert unhashed == []


def test_torch_is_the_pinned_cpu_build() -> None:
    """Both locks pin torch to the CPU build cpu-torch.txt names, never the default build with CUDA."""
    pinned = Requirement(next(line for line in CPU_TORCH.read_text().splitlines() if line.startswith("torch")))
    version = str(pinned.specifier).removeprefix("==")
    assert version.endswith("+cpu")
    assert read_lock(GRADING_LOCK)["torch"].version == read_lock(CI_LOCK)["torch"].version == version


def test_the_build_backend_is_pinned_within_pyprojects_range() -> None:
    """The package's build backend is in both locks, within build-system.requires: it installs with nothing fetched."""
    backend = [Requirement(text) for text in pyproject()["build-system"]["requires"]]
    for lock in (read_lock(GRADING_LOCK), read_lock(CI_LOCK)):
        assert out_of_range(lock, backend) == {}
        assert all(FROM_BUILD_SYSTEM in lock[canonicalize_name(r.name)].via for r in backend)


def test_the_locks_python_is_the_one_setup_and_ci_install() -> None:
    """The locks were resolved for the Python that setup.sh, .ci/run and the workflow make their environments with."""
    python = lock_python(GRADING_LOCK)
    assert lock_python(CI_LOCK) == python
    assert f"python{python} -m venv" in SETUP and f"python{python} -m venv .venv" in CI_RUN.read_text()
    assert re.search(rf'python-version:\s*"{re.escape(python)}"', WORKFLOW.read_text())


def test_the_test_extra_holds_the_course_and_docs_extras() -> None:
    """The test extra, written out for pip-compile, still holds every requirement of the course and docs extras."""
    extras = pyproject()["project"]["optional-dependencies"]
    assert set(extras["course"]) | set(extras["docs"]) <= set(extras["test"])


def reachable(url: str) -> bool:
    """Whether ``url``'s host has an address: where it has none, pip need not retry it for every package."""
    try:
        socket.getaddrinfo(urlparse(url).hostname, 443)
    except OSError:
        return False
    return True


@pytest.fixture
def gradescope_root() -> Path:
    """A fresh Gradescope bundle unpacked in ``<root>/source``, as Gradescope unpacks it: the root.

    In a folder every user may enter, as Gradescope's /autograder is: the reference grading at the end of setup.sh
    runs student code as a user of its own, which imports the new environment's packages.
    """
    root = Path(tempfile.mkdtemp(prefix="autograder-setup-"))
    root.chmod(0o755)
    build_bundle(root / "autograder.zip")
    with zipfile.ZipFile(root / "autograder.zip") as archive:
        archive.extractall(root / "source")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_gradescope_setup_installs_exactly_the_grading_lock(gradescope_root: Path) -> None:
    """setup.sh, run as Gradescope runs it (here under AUTOGRADER_ROOT), installs grading.txt's packages at its versions
    and nothing else but pip and the package, and the reference gets full marks."""
    # As on a bare image: not this test's virtual environment, whose python3.11 would come first.
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if Path(entry) != Path(sys.prefix) / "bin"]
    env = {**os.environ, "AUTOGRADER_ROOT": str(gradescope_root), "PATH": os.pathsep.join(path)}
    env.pop("VIRTUAL_ENV", None)
    if not reachable(TORCH_INDEX):  # pip has the wheel at hand here (PIP_FIND_LINKS); skip the index at once
        env["PIP_RETRIES"] = "0"
    setup = subprocess.run(["bash", str(gradescope_root / "source" / "setup.sh")], cwd=gradescope_root / "source",
                           env=env, capture_output=True, text=True, timeout=1200)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    listed = subprocess.run([str(gradescope_root / "venv" / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, timeout=120, check=True)
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    assert installed.pop("pytorch-nn-assignment") == pyproject()["project"]["version"]
    installed.pop("pip")  # the virtual environment's own, which the lock does not pin
    assert installed == {name: pin.version for name, pin in read_lock(GRADING_LOCK).items()}
