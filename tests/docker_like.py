"""Run a command as Docker runs a container's processes by default, as on Gradescope: ``python tests/docker_like.py CMD...``.

Gradescope runs ``run_autograder`` as root in a Docker container, whose defaults are the
restrictions emulated here, on this machine's kernel:

- capabilities: only Docker's default set is kept (``chown``, ``dac_override``, ``fowner``,
  ``fsetid``, ``kill``, ``setgid``, ``setuid``, ``setpcap``, ``net_bind_service``, ``net_raw``,
  ``sys_chroot``, ``mknod``, ``audit_write``, ``setfcap``); every other one, ``sys_admin``
  first, is dropped from the bounding set with ``capsh --drop``, so neither this process nor
  anything it starts can hold it;
- seccomp: a filter, built with libseccomp, refuses ``unshare``, ``setns``, ``mount``,
  ``umount2`` and ``pivot_root`` with EPERM, ``clone`` with any namespace flag with EPERM,
  and ``clone3`` with ENOSYS (so that libc falls back to ``clone``), as Docker's default
  profile does for a container without ``CAP_SYS_ADMIN``;
- cgroups: the cgroup file system is read-only, as Docker mounts it in a container (done
  first, in a mount namespace of the command's own, so that the machine's stays as it is).

What it does not emulate: the container's own file system (the command sees this machine's
files, which is harder on the grader, not easier) and its network (left as it is).
"""

import ctypes
import ctypes.util
import errno
import os
import shutil
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path, not the repository's.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from autograder.boundary import memory  # noqa: E402
from autograder.boundary.memory import SCMP_CMP_MASKED_EQ, ArgumentComparison  # noqa: E402

DOCKER_DEFAULT_CAPABILITIES = {
    "chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap",
}
# Linux's capabilities by number (linux/capability.h).
CAPABILITIES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
)
# capsh lives in /usr/sbin, which a caller's PATH may lack (Gradescope's run_autograder is given a short one).
CAPSH = shutil.which("capsh") or shutil.which("capsh", path="/usr/sbin:/sbin:/usr/bin:/bin")
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
                   0x00000080)  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x20, 0x1000, 0x4000, 1 << 18
CGROUPS = "/sys/fs/cgroup"


def available() -> str | None:
    """None where this emulation can run here, else why not."""
    if os.geteuid() != 0:
        return "it needs root, as Gradescope's containers run run_autograder"
    if CAPSH is None:
        return "capsh is not installed (Debian's libcap2-bin)"
    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is not installed"
    return None


def install_seccomp_filter() -> None:
    """Refuse new namespaces and mounts to this process and everything it starts, as Docker's default profile does."""
    rules = [(name, errno.EPERM, ()) for name in ("unshare", "setns", "mount", "umount2", "pivot_root")]
    rules += [("clone", errno.EPERM, (ArgumentComparison(0, SCMP_CMP_MASKED_EQ, flag, flag),)) for flag in NAMESPACE_FLAGS]
    rules.append(("clone3", errno.ENOSYS, ()))
    memory.install_seccomp_filter(rules, no_new_privs=False)  # Docker does not set no_new_privs


def cgroups_read_only() -> None:
    """In a mount namespace of this process's own, every cgroup mount read-only, as in a Docker container."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "a mount namespace for the Docker-like setting")
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in (m for m in mounts if m == CGROUPS or m.startswith(CGROUPS + "/")):
        libc.mount(None, mount.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def dropped_capabilities() -> list[str]:
    """Every capability this kernel has that Docker drops by default."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return [f"cap_{name}" for name in CAPABILITIES[: last + 1] if name not in DOCKER_DEFAULT_CAPABILITIES]


def command(argv: list[str]) -> list[str]:
    """``argv`` run Docker-like: this file, which installs the filter, then ``capsh`` dropping capabilities."""
    return [sys.executable, str(Path(__file__).resolve()), *argv]


def main(argv: list[str]) -> None:
    cgroups_read_only()
    install_seccomp_filter()
    drop = ",".join(dropped_capabilities())
    os.execv(CAPSH, [CAPSH, f"--drop={drop}", "--", "-c", 'exec "$0" "$@"', *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
