"""How the worker that runs student code is confined: what it is given, never a list of what is hidden.

Three modes, the strongest this machine allows, each tried for real before it is used (``trial.py``):

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
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from autograder.boundary.channel import Channel
from autograder.boundary.memory import join_new_cgroup, refuse_in_worker
from autograder.boundary.sandbox import build_root, fork_into_namespaces
from autograder.fingerprint import PACKAGE_DIR

# uids for workers: far above any real account, one per grading, so that two gradings on one
# machine can neither signal nor read each other's processes and files.
WORKER_UIDS = (1 << 30, (1 << 31) - 2)
# Folders anyone may write to, where a worker's uid may leave files behind.
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
# System V shared memory, semaphores and message queues outlive their process: ipcrm's flag for each.
SYSTEM_V_IPC = {"shm": "-m", "sem": "-s", "msg": "-q"}
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
