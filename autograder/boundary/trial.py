"""Which confinement this machine allows: the strongest of ``confinement.py``'s modes that a trial shows holds.

A trial confines a process exactly as a worker would be (``Confinement.start``) and reports what it
could reach that it must not (the reference, the course's folders, the package for writing) and what
it cannot import that a worker needs; a mode with any finding is not taken, and the next is tried.
"""

import importlib
import itertools
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from autograder.boundary.confinement import Confinement, become_subreaper, end_process, free_uid, unconfined
from autograder.boundary.memory import cgroup_parent
from autograder.fingerprint import PACKAGE_DIR

# The system's files that Python, torch and numpy need, besides the Python environment itself.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
TRIAL_SECONDS = 60
TRIAL_FILES = 200  # files of each protected folder the trial tries to open
# What a worker must find on disk: what the notebooks and the grader's scenarios import.
TRIAL_MODULES = ("torch", "numpy", "sklearn", "matplotlib", "execnet", "autograder")


def contains(folder: Path, paths: list[Path]) -> bool:
    """Whether ``folder`` is one of ``paths`` or holds one of them."""
    return any(path == folder or folder in path.parents for path in paths)


def environment_paths(protected: list[Path]) -> list[str]:
    """What a worker needs to run, for the namespaces' new root: the system's libraries, Python, this package.

    Never a folder that holds a protected path, nor the working directory (Python puts it on
    ``sys.path``; it may be a course folder).
    """
    prefixes = [Path(p).absolute() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]
    libraries = os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
    given = [Path(p).absolute() for p in [*sys.path, *libraries] if p and Path(p).is_dir()]
    cwd = Path.cwd().resolve()
    folders = sorted({p.resolve() for p in prefixes} | {PACKAGE_DIR} | {p.resolve() for p in given} - {cwd})
    kept = [f for f in folders if not contains(f, protected)
            and not any(other in f.parents for other in folders)]  # one bind covers its subfolders
    # Python finds its modules by the paths as given, which may pass through a link (a virtual environment
    # reached by one): the new root holds those links too, beside the folders they lead to.
    system = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    bound = [*map(Path, system), *kept]
    links = sorted({link for path in prefixes + given for link in (path, *path.parents) if link.is_symlink()
                    and not contains(link, protected) and not any(b == link or b in link.parents for b in bound)})
    return system + [str(f) for f in kept] + [str(link) for link in links]


def find_confinement(protected: list[Path], choice: str = "auto") -> Confinement:
    """The strongest confinement this machine allows (or ``choice``), tried for real once.

    ``protected``: folders and files student code must not read (the reference, the course's
    submissions and results).
    """
    if choice == "off":
        return unconfined("turned off with --sandbox off")
    if not sys.platform.startswith("linux"):
        return unconfined(f"confinement needs Linux, and this is {sys.platform}")
    missing = [tool for tool in ("unshare", "setpriv") if shutil.which(tool) is None]
    if missing:
        return unconfined(f"{' and '.join(missing)} not found (util-linux)")
    protected = [path.resolve() for path in protected]
    become_subreaper()
    reasons = []
    found = cgroup_parent() if os.geteuid() == 0 else None
    cgroup, counted = (None, "") if found is None else (str(found), "; all its memory counted by a cgroup")
    if choice in ("auto", "namespaces"):
        uid = free_uid() if os.geteuid() == 0 else None
        confinement = Confinement(
            "namespaces",
            "own mount, network, IPC and PID namespaces over a root holding only Python and this package, "
            "read-only" + ("; a uid of its own; no capabilities" if uid is not None else "; no capabilities") + counted,
            uid, tuple(environment_paths(protected)), "" if uid is None else f"(uid {uid})", cgroup)
        problems = trial(confinement, protected)
        if not problems:
            return confinement
        reasons.append(f"Linux namespaces are not available here ({explain(problems)})")
    if choice in ("auto", "user"):
        if os.geteuid() != 0:
            reasons.append("running student code as another user needs root")
        else:
            uid = free_uid()
            confinement = Confinement(
                "user", "a uid of its own, no capabilities, no access to the reference "
                "or the course's folders" + counted, uid, notes=f"(uid {uid})", cgroup=cgroup)
            # Where student code runs as another uid, permissions are what keep it from the answers:
            # any access of other users (reading, or only passing through, as 0711 allows) is taken off.
            exposed = [p for p in protected if p.exists() and p.lstat().st_mode & 0o007 and restrictable(p)]
            if exposed:
                restrict(exposed)
                confinement = replace(confinement, notes=(
                    f"{confinement.notes} (made unreadable to other users: {', '.join(map(str, exposed))})"))
            problems = trial(confinement, protected)
            if not problems:
                if reasons:  # say why not namespaces, for whoever wonders
                    confinement = replace(confinement, notes=f"{confinement.notes} ({reasons[0]})")
                return confinement
            reasons.append(f"a worker as another user is not confined here ({explain(problems)})")
    return unconfined("; ".join(reasons))


def restrictable(path: Path) -> bool:
    """Whether the grader may close ``path`` to other users: never ``/`` or a shared folder such as ``/tmp``."""
    mode = path.lstat().st_mode
    return path != Path(path.anchor) and not stat.S_ISLNK(mode) and not mode & stat.S_ISVTX


def restrict(paths: list[Path]) -> None:
    """Take every access of other users off each of ``paths`` (``chmod o-rwx``); their owner keeps its own."""
    for path in paths:
        os.chmod(path, stat.S_IMODE(path.lstat().st_mode) & ~0o007)


def explain(problems: dict[str, list[str]]) -> str:
    """The trial's findings as one line."""
    said = {"failed": "{}", "readable": "{} can be read", "writable": "{} can be written",
            "missing": "it cannot import {}"}
    return "; ".join(said[kind].format(item) for kind, items in problems.items() for item in items)


def trial_findings(paths: dict[str, list[int]], package: str) -> dict[str, list[str]]:
    """What a process confined as a worker can reach that it must not, or cannot reach that it needs.

    ``paths``: each protected path, with its device and inode: a path counts only where it is the
    protected file or folder itself (a new root may hold an empty folder of the same path, on the
    way to the worker's own work folder).
    """
    problems: dict[str, list[str]] = {"readable": [], "writable": [], "missing": []}
    for path, identity in paths.items():
        try:
            if path.endswith("/"):
                os.listdir(path)
            else:
                open(path, "rb").close()
            info = os.stat(path)
            if [info.st_dev, info.st_ino] == identity:
                problems["readable"].append(path)
        except OSError:
            pass
    for folder, _, _ in os.walk(package):
        try:
            open(os.path.join(folder, ".confinement-trial"), "wb").close()
            os.unlink(os.path.join(folder, ".confinement-trial"))
            problems["writable"].append(folder)
            break
        except OSError:
            pass
    for module in TRIAL_MODULES:
        try:  # imported already where the grader preloaded it: a worker needs it from disk only otherwise
            importlib.import_module(module)
        except (ImportError, OSError):
            problems["missing"].append(module)
    return {kind: items for kind, items in problems.items() if items}


def trial_paths(protected: list[Path]) -> dict[str, list[int]]:
    """What the trial tries to read, with each one's device and inode: each protected folder (listed, ending in "/")
    and its files by name, since a folder closed to listing may still let a known name through; at most TRIAL_FILES
    files."""
    paths = []
    for path in protected:
        if path.is_dir():
            paths.append((f"{path}/", path))
            paths += [(str(file), file) for file in itertools.islice(path.rglob("*"), TRIAL_FILES) if file.is_file()]
        elif path.exists():
            paths.append((str(path), path))
    return {name: [path.stat().st_dev, path.stat().st_ino] for name, path in paths}


def trial(confinement: Confinement, protected: list[Path]) -> dict[str, list[str]]:
    """Confine a process as a worker would be; what it could reach that it must not (empty if nothing)."""
    paths = trial_paths(protected)
    workdir = tempfile.mkdtemp(prefix="autograder-confinement-trial-")
    try:
        confinement.prepare(workdir)
        pid, channel = confinement.start(
            workdir, lambda channel: channel.send(("findings", trial_findings(paths, str(PACKAGE_DIR)))))
        try:
            kind, value = channel.receive(timeout=TRIAL_SECONDS)
        except (EOFError, TimeoutError, ValueError, TypeError) as error:
            return {"failed": [f"trying it failed: {error or type(error).__name__}"]}
        finally:
            channel.close()
            end_process(pid)
    except OSError as error:
        return {"failed": [f"trying it failed: {error}"]}
    finally:
        confinement.clean_up()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"failed": [value]} if kind == "failed" else value
