"""The new root of a worker in namespaces: only what it is given, read-only, and a private work folder.

Run by the first process of fresh mount, network, IPC and PID namespaces (see
``confinement.Confinement.enter``). ``build_root`` makes a root on a tmpfs mounted over the work
folder that holds only each path it is given (bound read-only at its own path; a symbolic link
is copied as a link), a minimal ``/dev``, a fresh ``/proc``, and the work folder, ``/tmp`` and
``/dev/shm`` as private, empty, writable tmpfs; moves into it with ``pivot_root`` and detaches
the old root, so that nothing else of the machine can be reached. The system calls are made
directly (``mount(2)``, ``pivot_root(2)``): starting ``mount`` for each of some forty steps
took a quarter of a second per worker.
"""

import ctypes
import os
import platform
import signal
from pathlib import Path

libc = ctypes.CDLL(None, use_errno=True)
# syscall(2) through Python's own calling convention, which keeps the GIL across the call, as os.fork does across
# fork(2).
syscall_holding_the_gil = ctypes.PyDLL(None, use_errno=True).syscall
syscall_holding_the_gil.restype, syscall_holding_the_gil.argtypes = ctypes.c_long, [ctypes.c_long] * 6
# clone(2)'s system call number, by machine: each of these takes the flags first.
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "ppc64le": 120}
# <sys/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND = 0x20, 0x1000
MNT_DETACH = 2
# pivot_root has no libc wrapper: its system call number, by machine.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
ROOT_TMPFS = "size=16m,mode=755"
SHARED_TMPFS = "size=64m,mode=1777"
WORK_TMPFS = "size=512m,mode=700"
DEVICES = ("null", "zero", "full", "random", "urandom")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``; raises ``OSError`` naming the target."""
    if libc.mount(source.encode(), target.encode(), None if fstype is None else fstype.encode(), flags,
                  None if data is None else data.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def tmpfs(target: str, options: str) -> None:
    mount("sandbox", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


def bind_read_only(path: str, root: str) -> None:
    """Bind ``path`` at the same place under ``root``, read-only (keeping flags a user namespace locks)."""
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).touch()
    mount(path, target, None, MS_BIND)
    try:
        mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except OSError:
        mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def bind_device(device: str, root: str) -> None:
    """Bind one device node (or a folder of them) at the same place under ``root``."""
    target = root + device
    if os.path.isdir(device):
        os.makedirs(target, exist_ok=True)
    else:
        Path(target).touch()
    mount(device, target, None, MS_BIND)


def pivot_root(new_root: str, put_old: str) -> None:
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    if libc.syscall(number, new_root.encode(), put_old.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"pivot_root: {os.strerror(error)}")


def fork_into_namespaces(flags: int) -> int:
    """``os.fork``, with the child begun in new namespaces: ``clone(2)`` with ``flags`` (``CLONE_NEW*``). Returns 0 in
    the child, the child's pid in the caller; raises ``OSError`` where the kernel refuses.

    ``unshare`` takes a process into new namespaces but a new PID namespace only for its children, so it cost
    a second fork, and each copy of a process that has imported torch (300 MB of its own memory) costs the kernel
    about 30 ms to make and to end. Python's state is made ready and put right around the call as ``os.fork`` does
    (``PyOS_BeforeFork``, ``PyOS_AfterFork_Child`` and ``PyOS_AfterFork_Parent``), the GIL held throughout.
    """
    number = SYS_CLONE.get(platform.machine())
    if number is None:
        raise OSError(f"clone: unknown system call number on {platform.machine()}")
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = syscall_holding_the_gil(number, flags | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    error = ctypes.get_errno()
    ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(error, f"clone: {os.strerror(error)}")
    return pid


def build_root(workdir: str, uid: int | None, bound: tuple[str, ...]) -> None:
    """Make a new root over ``workdir`` holding only ``bound``, read-only, and move into it; the work folder, in it,
    belongs to ``uid`` (where given) and is the current directory."""
    root = workdir
    tmpfs(root, ROOT_TMPFS)
    # /tmp and /dev/shm first: what is bound below them (a package in /tmp) must stay visible.
    for folder in ("tmp", "dev/shm"):
        os.makedirs(f"{root}/{folder}")
        tmpfs(f"{root}/{folder}", SHARED_TMPFS)
    for path in bound:
        if os.path.islink(path):
            os.makedirs(root + os.path.dirname(path), exist_ok=True)
            os.symlink(os.readlink(path), root + path)
        elif os.path.exists(path):
            bind_read_only(path, root)
    for folder in ("proc", ".old-root"):
        os.makedirs(f"{root}/{folder}")
    for device in DEVICES:
        bind_device(f"/dev/{device}", root)
    os.symlink("/proc/self/fd", f"{root}/dev/fd")
    # An NVIDIA GPU, where there is one, so that --device cuda trains there: its device nodes, and /sys
    # (read-only) for the driver's library to find it.
    for device in sorted(str(p) for p in Path("/dev").glob("nvidia*")):
        bind_device(device, root)
    if os.path.exists("/dev/nvidiactl"):
        bind_read_only("/sys", root)
    os.makedirs(root + workdir)
    owner = "" if uid is None else f",uid={uid},gid={uid}"
    tmpfs(root + workdir, WORK_TMPFS + owner)
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    pivot_root(".", ".old-root")
    if libc.umount2(b"/.old-root", MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), "detaching the old root")
    try:
        mount("none", "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    except OSError:
        mount("none", "/", None, MS_REMOUNT | MS_RDONLY)
    os.chdir(workdir)
    if os.access("/", os.W_OK):
        raise OSError("the new root could not be made read-only")
