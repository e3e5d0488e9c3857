"""All of a worker's memory counts against its cap: a cgroup where one can be made, else no memory that goes uncounted.

``RLIMIT_DATA`` caps a worker's private memory, not memory it holds as shared memory: files
in ``/dev/shm`` or a ``memfd``, System V segments, shared or stack-like mappings. Where the
grader can make a memory cgroup (root with a writable cgroup file system: CI, a grading
server), each worker runs in one of its own, which counts all of it, and the kernel ends the
worker that passes the cap. Elsewhere (Docker's containers mount the cgroup file system
read-only) the worker's address space is capped at what it had when it started plus the cap
(``RLIMIT_AS`` counts every mapping), a seccomp filter refuses the memory no mapping shows
(``memfd_create``, ``shmget``), and the grader watches what the worker's uid holds in all its
processes together (each has caps of its own) and in files in the shared temporary folders
(``UidWatch``). In every confined mode the filter also refuses
the kernel's keyrings, which outlive a process and would carry data to the next one.
"""

import ctypes
import ctypes.util
import errno
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

# Where a process's cgroups are (cgroup v1's memory controller, or the unified v2 hierarchy).
CGROUP_ROOT = Path("/sys/fs/cgroup")
# libseccomp's constants (seccomp.h).
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
# Files of a worker's uid the watch looks at, at most, each time: a worker that makes more is ended.
MAX_WATCHED_FILES = 10_000
WATCH_SECONDS = 0.2


class ArgumentComparison(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def errno_action(number: int) -> int:
    """libseccomp's SCMP_ACT_ERRNO(number)."""
    return 0x00050000 | (number & 0xFFFF)


def seccomp_library() -> ctypes.CDLL | None:
    """libseccomp, where it is installed."""
    name = ctypes.util.find_library("seccomp")
    return None if name is None else ctypes.CDLL(name, use_errno=True)


def install_seccomp_filter(rules: Iterable[tuple[str, int, tuple[ArgumentComparison, ...]]],
                           no_new_privs: bool = True) -> None:
    """Make each system call of ``rules`` (name, errno, argument comparisons) fail with that errno, for this
    process and everything it starts; every other call is allowed. Raises ``OSError`` where it cannot."""
    seccomp = seccomp_library()
    if seccomp is None:
        raise OSError("libseccomp is not installed")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgumentComparison)]
    seccomp.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    seccomp.seccomp_release.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(SCMP_ACT_ALLOW)
    try:
        for name, number, comparisons in rules:
            syscall = seccomp.seccomp_syscall_resolve_name(name.encode())
            if syscall < 0:  # not a system call on this architecture
                continue
            array = (ArgumentComparison * len(comparisons))(*comparisons)
            if seccomp.seccomp_rule_add_array(context, errno_action(number), syscall, len(comparisons), array) != 0:
                raise OSError(f"seccomp: could not add a rule for {name}")
        seccomp.seccomp_attr_set(context, 3, int(no_new_privs))  # SCMP_FLTATR_CTL_NNP
        if seccomp.seccomp_load(context) != 0:
            raise OSError("seccomp: the filter could not be loaded")
    finally:
        seccomp.seccomp_release(context)


def refuse_in_worker(memory_counted: bool) -> None:
    """Refuse this process what outlives a process (the kernel's keyrings, System V message queues and semaphores,
    POSIX message queues) and, where no cgroup counts its memory, the memory that no mapping shows (a memfd written
    to, a System V segment never attached)."""
    rules = [(name, errno.EPERM, ()) for name in ("add_key", "keyctl", "request_key", "msgget", "semget", "mq_open")]
    if not memory_counted:
        rules += [(name, errno.EPERM, ()) for name in ("memfd_create", "memfd_secret", "shmget")]
    install_seccomp_filter(rules)


def cap_address_space(megabytes: int) -> None:
    """Cap this process's address space at what it maps now plus ``megabytes``: every mapping counts, shared,
    stack-like or not (torch maps far more than it touches, so the cap starts from what is mapped)."""
    import resource

    mapped = int(Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]) * 1024
    limit = mapped + megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def cgroup_parent() -> Path | None:
    """The memory cgroup this process is in, where it may make cgroups for its workers; else None.

    Tried for real: a cgroup is made, given a limit, and removed.
    """
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):  # cgroup v1
            candidates.append((CGROUP_ROOT / "memory" / path.lstrip("/"), "memory.limit_in_bytes"))
        elif controllers == "":  # cgroup v2: only where the memory controller is on for children
            for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
                folder = root / path.lstrip("/")
                try:
                    if "memory" in (folder / "cgroup.subtree_control").read_text().split():
                        candidates.append((folder, "memory.max"))
                except OSError:
                    pass
    for folder, limit_file in candidates:
        trial = folder / f"autograder-trial-{os.getpid()}"
        try:
            trial.mkdir()
        except OSError:
            continue
        try:
            (trial / limit_file).write_text(str(64 * 2**20))
            return folder
        except OSError:
            continue
        finally:
            trial.rmdir()
    return None


def join_new_cgroup(parent: Path, name: str, megabytes: int) -> None:
    """Make the cgroup ``parent/name`` with a cap of ``megabytes`` on all the memory its processes use (swap
    included, where the kernel counts it), and move this process into it."""
    folder = parent / name
    folder.mkdir()
    limits = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max", "memory.swap.max")
    for limit in limits:
        value = "0" if limit == "memory.swap.max" else str(megabytes * 2**20)
        if (folder / limit).exists():
            (folder / limit).write_text(value)
    (folder / ("tasks" if (folder / "tasks").exists() else "cgroup.procs")).write_text(str(os.getpid()))


def remove_cgroup(parent: Path, name: str) -> None:
    """Remove a worker's cgroup once its processes have ended (the kernel refuses while any is left)."""
    for _ in range(50):
        try:
            (parent / name).rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            threading.Event().wait(0.02)


def files_held(uid: int, folders: Iterable[str]) -> int | None:
    """Bytes of the files ``uid`` owns under ``folders`` (what it holds in memory where they are tmpfs), or None
    when it holds more than ``MAX_WATCHED_FILES`` files."""
    total, seen = 0, 0
    stack = [Path(folder) for folder in folders]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid != uid:
                continue
            seen += 1
            if seen > MAX_WATCHED_FILES:
                return None
            total += info.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return total


def memory_of_processes(uid: int) -> list[tuple[int, int]]:
    """For each process of ``uid``: its resident anonymous memory and the shared memory it maps, in bytes
    (from /proc/PID/status, which the grader may read without ptrace's rights, as Docker's root has none)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            status = Path(entry.path, "status").read_text()
            anonymous, shared = (int(status.split(f"\n{key}:")[1].split()[0]) * 1024 for key in ("RssAnon", "RssShmem"))
        except (OSError, IndexError, ValueError):
            continue
        found.append((anonymous, shared))
    return found


class UidWatch:
    """Ends a worker whose uid holds more than ``megabytes`` in its processes and its files under ``folders``
    together; looks every 0.2 s.

    A process's anonymous memory counts beyond what the worker had when first seen: a fork shares the
    grader's pages (torch's) copy-on-write, and would otherwise count them again, each.
    """

    def __init__(self, uid: int, folders: Iterable[str], megabytes: int, end: Callable[[], None]) -> None:
        self.uid, self.folders, self.limit, self.end = uid, list(folders), megabytes * 2**20, end
        self.baseline: int | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def held(self) -> int | None:
        """Bytes the uid holds now, or None when it holds more files than can be counted."""
        files = files_held(self.uid, self.folders)
        processes = memory_of_processes(self.uid)
        if self.baseline is None and processes:
            self.baseline = min(anonymous for anonymous, _ in processes)
        baseline = self.baseline or 0
        return None if files is None else files + sum(max(0, a - baseline) + s for a, s in processes)

    def _watch(self) -> None:
        while not self.stopped.wait(WATCH_SECONDS):
            held = self.held()
            if held is None or held > self.limit:
                self.end()
                return

    def stop(self) -> None:
        self.stopped.set()
        if threading.current_thread() is not self.thread:
            self.thread.join()
