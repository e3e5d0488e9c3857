"""How the worker that runs student code is confined: what it is given, never a list of what is hidden.

Three modes, the strongest this machine allows, each tried for real before it is used:

- ``namespaces`` (Linux, as root or with unprivileged user namespaces): the worker runs in
  its own mount, network, IPC and PID namespaces over a new root that holds only the Python
  environment and this package, read-only, a private empty work folder and ``/tmp``, a
  minimal ``/dev`` and its own ``/proc`` (``sandbox.py``); as root it also runs as a uid of
  its own. Nothing else of the machine exists for it.
- ``user`` (root without namespaces: Docker's defaults, so Gradescope): the worker runs as
  a uid of its own, without capabilities, in a work folder only it can use. What it must not
  read (the reference, the course's folders) is made unreadable to other
  users, and a trial run as that uid checks it, and that the package cannot be written.
  Every process of that uid is killed when the worker stops.
- ``none`` (a student's laptop): a plain process of the same user, said once.
"""

import ctypes
import importlib
import itertools
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from autograder.boundary.channel import Channel
from autograder.boundary.memory import cgroup_parent, join_new_cgroup, refuse_in_worker
from autograder.boundary.sandbox import build_root, fork_into_namespaces
from autograder.fingerprint import PACKAGE_DIR

# The system's files that Python, torch and numpy need, besides the Python environment itself.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
# uids for workers: far above any real account, one per grading, so that two gradings on one
# machine can neither signal nor read each other's processes and files.
WORKER_UIDS = (1 << 30, (1 << 31) - 2)
# Folders anyone may write to, where a worker's uid may leave files behind.
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
# System V shared memory, semaphores and message queues outlive their process: ipcrm's flag for each.
SYSTEM_V_IPC = {"shm": "-m", "sem": "-s", "msg": "-q"}
TRIAL_SECONDS = 60
TRIAL_FILES = 200  # files of each protected folder the trial tries to open
# What a worker must find on disk: what the notebooks and the grader's scenarios import.
TRIAL_MODULES = ("torch", "numpy", "sklearn", "matplotlib", "execnet", "autograder")
# Linux's clone flags and mount flags (<sched.h>, <sys/mount.h>) and prctl options (<linux/prctl.h>).
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 24, 38, 36
CAPABILITY_VERSION_3 = 0x20080522
libc = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None
# The grader's environment variables a worker keeps: where torch's libraries are, which GPUs to use.
PASSED_ON = ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES")
UNTRUSTED = "this grade must not be trusted for a class"


@dataclass(frozen=True)
class Confinement:
    """How workers are confined here, and how to say so to whoever reads the grade."""

    mode: str  # "namespaces", "user" or "none"
    description: str  # the same on every run, so that results.json is too
    uid: int | None = None  # the worker's own uid, where it has one
    bound: tuple[str, ...] = ()  # namespaces: what the new root holds, read-only
    notes: str = ""  # what only this run did or met (the uid, folders it closed), for the log
    cgroup: str | None = None  # the memory cgroup under which each worker gets one of its own, where one can be made

    @property
    def active(self) -> bool:
        return self.mode != "none"

    @classmethod
    def from_json(cls, fields: dict) -> "Confinement":
        """The confinement ``dataclasses.asdict`` wrote as JSON (how grade-all and its job slots tell each other)."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()})

    @property
    def summary(self) -> str:
        """One line for results.json: the mode, and whether the grade can be trusted."""
        if self.active:
            return f"Student code ran confined ({self.mode}): {self.description}."
        return f"Student code ran NOT CONFINED ({self.description}): {UNTRUSTED}."

    @property
    def log_line(self) -> str:
        """The summary, and what only this run did, for the run's header and grade-all's output."""
        return f"{self.summary} {self.notes}".rstrip()

    def with_own_uid(self) -> "Confinement":
        """This confinement with a uid no process uses now, for one grading, where workers get a uid of their own."""
        if self.uid is None:
            return self
        uid = free_uid()
        return replace(self, uid=uid, notes=self.notes.replace(f"(uid {self.uid})", f"(uid {uid})"))

    def start(self, workdir: str, body: Callable[[Channel], None], memory_mb: int | None = None) -> tuple[int, Channel]:
        """Fork a process that confines itself to ``workdir`` (all its memory capped at ``memory_mb``, where a cgroup
        can count it) and then runs ``body`` with its end of a channel.

        Returns the pid of the confined process, a child of the caller (which must be a child
        subreaper: see ``become_subreaper``) that only the caller reaps, and the caller's end.
        """
        ours, theirs = socket.socketpair()
        # Not root: the child is root of a user namespace of its own, mapped to this uid and gid.
        mapped = (os.geteuid(), os.getegid()) if self.mode == "namespaces" and os.geteuid() != 0 else None
        try:
            if self.mode == "namespaces":  # the child begins in its namespaces, the first process of its PID namespace
                pid = fork_into_namespaces(NAMESPACES | (CLONE_NEWUSER if mapped else 0))
            else:
                pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:  # nothing in this branch returns
            ours.close()
            confined_child(self, workdir, theirs, body, memory_mb, mapped)
        theirs.close()
        return pid, Channel(ours)

    def enter(self, workdir: str) -> None:
        """In the process that will run student code: its new root (namespaces), its work folder, no privileges,
        and an environment of its own."""
        if self.mode == "namespaces":
            build_root(workdir, self.uid, self.bound)
        os.chdir(workdir)
        # The grader may have found this package through its working directory ("" on sys.path),
        # which is no longer this process's: the package's own folder, and no relative entry.
        sys.path[:] = [str(PACKAGE_DIR.parent), *(entry for entry in sys.path if os.path.isabs(entry))]
        if self.active:
            drop_privileges(self.uid)
            try:
                refuse_in_worker(memory_counted=self.cgroup is not None)
            except OSError:
                pass  # no libseccomp: the address space is still capped, and the files it holds watched
        os.environ.clear()
        os.environ.update(worker_environment(workdir))
        tempfile.tempdir = None  # the grader's own, cached when it first made a temporary file: found again here

    def prepare(self, workdir: str) -> None:
        """Give the worker its work folder: in ``user`` mode, owned by its uid and closed to everyone else."""
        if self.mode == "user":
            os.chown(workdir, self.uid, self.uid)
            os.chmod(workdir, 0o700)

    def clean_up(self) -> None:
        """In ``user`` mode, end every process of the worker's uid and remove its files in shared folders."""
        if self.mode != "user":
            return
        kill_every_process_of(self.uid)
        remove_ipc_of(self.uid)
        for folder in SHARED_TEMPORARY:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != self.uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass


# Set by a long-lived process that forks grading runs (grade-all's job slot, ``autograder/slot.py``)
# after the confinement was tried once for all of them: each run then takes it, with a uid of its own.
known: Confinement | None = None


def worker_environment(workdir: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the grader's (tokens, paths) but where libraries and GPUs are."""
    kept = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    return {"PATH": os.defpath, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **kept}


def check(result: int, what: str) -> None:
    """Raise ``OSError`` for a failed libc call."""
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


class CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapabilitySets(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges(uid: int | None) -> None:
    """What ``setpriv --reuid=UID --regid=UID --clear-groups --bounding-set=-all --inh-caps=-all --no-new-privs``
    does, in this process: become ``uid`` (where given) with no capability, now or after any ``exec``."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):
        check(libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), "dropping the capability bounding set")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    none = (CapabilitySets * 2)()  # effective, permitted and inheritable sets all empty
    check(libc.capset(ctypes.byref(CapabilityHeader(CAPABILITY_VERSION_3, 0)), none), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def become_subreaper() -> None:
    """Make this process adopt its orphaned descendants, so that a confined process whose parent
    has exited stays a child of this one: its pid is then never reused before this process reaps it."""
    if sys.platform.startswith("linux"):
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def end_process(pid: int) -> None:
    """SIGKILL a confined process (a whole PID namespace where it is the first of one) and reap it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def close_other_files(keep: set[int]) -> None:
    """Close every file descriptor above 2 but ``keep``: the grader's logs, sockets and files stay the grader's."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def cgroup_name(workdir: str) -> str:
    """The name of the memory cgroup of the worker whose work folder is ``workdir``."""
    return f"autograder-worker-{Path(workdir).name}"


def confined_child(confinement: "Confinement", workdir: str, connection: socket.socket,
                   body: Callable[[Channel], None], memory_mb: int | None, mapped: tuple[int, int] | None) -> NoReturn:
    """A newly forked process: confine itself, then run ``body``; say on the channel if confining failed. ``mapped``:
    the grader's uid and gid, where this process is root of a user namespace of its own to be mapped to them."""
    code = 1
    try:
        os.setsid()  # so that the grader can end every process this one starts (unconfined, with killpg)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        close_other_files({connection.fileno()})
        channel = Channel(connection)
        try:
            if confinement.cgroup is not None and memory_mb:
                join_new_cgroup(Path(confinement.cgroup), cgroup_name(workdir), memory_mb)
            if mapped is not None:
                Path("/proc/self/setgroups").write_text("deny")
                Path("/proc/self/uid_map").write_text(f"0 {mapped[0]} 1")
                Path("/proc/self/gid_map").write_text(f"0 {mapped[1]} 1")
            if confinement.mode == "namespaces":  # mounts made inside must not reach the grader's namespace
                check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
            confinement.enter(workdir)
        except OSError as error:
            channel.send(("failed", f"confining the worker failed: {error}"))
            os._exit(1)
        body(channel)
        code = 0
    finally:
        os._exit(code)


def kill_every_process_of(uid: int) -> None:
    """SIGKILL every process of ``uid`` at once: ``kill(-1)`` sent as that uid reaches all of them, forks included."""
    for _ in range(3):
        subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", "kill", "-KILL", "-1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def remove_ipc_of(uid: int) -> None:
    """Remove every System V shared memory segment, semaphore set and message queue ``uid`` owns.

    They outlive their processes: left behind, a segment would keep its memory taken after
    grading, and could carry data to a later grading.
    """
    for kind, flag in SYSTEM_V_IPC.items():
        try:
            header, *rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        columns = header.split()
        for row in rows:
            fields = dict(zip(columns, row.split()))
            if str(uid) in (fields.get("uid"), fields.get("cuid")):  # its owner may be changed; its creator may not
                subprocess.run(["ipcrm", flag, fields[columns[1]]], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)


def unconfined(reason: str) -> Confinement:
    """Workers run as plain processes; ``reason`` says why."""
    return Confinement("none", reason)


def free_uid() -> int:
    """A uid no process uses now, for this grading's worker."""
    in_use = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                in_use.add(entry.stat().st_uid)
            except OSError:
                pass
    while True:
        uid = random.SystemRandom().randint(*WORKER_UIDS)
        if uid not in in_use:
            return uid


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
