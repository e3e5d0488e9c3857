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
  profile does for a container without ``CAP_SYS_ADMIN``.

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
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
SCMP_FLTATR_CTL_NNP = 3


def errno_action(number: int) -> int:
    """libseccomp's SCMP_ACT_ERRNO(number)."""
    return 0x00050000 | (number & 0xFFFF)


class ArgumentComparison(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


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
    seccomp = ctypes.CDLL(ctypes.util.find_library("seccomp"), use_errno=True)
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgumentComparison)]
    seccomp.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(SCMP_ACT_ALLOW)

    def refuse(name: str, number: int, *comparisons: ArgumentComparison) -> None:
        syscall = seccomp.seccomp_syscall_resolve_name(name.encode())
        array = (ArgumentComparison * len(comparisons))(*comparisons)
        if seccomp.seccomp_rule_add_array(context, errno_action(number), syscall, len(comparisons), array) != 0:
            raise OSError(f"seccomp: could not add a rule for {name}")

    for name in ("unshare", "setns", "mount", "umount2", "pivot_root"):
        refuse(name, errno.EPERM)
    for flag in NAMESPACE_FLAGS:
        refuse("clone", errno.EPERM, ArgumentComparison(0, SCMP_CMP_MASKED_EQ, flag, flag))
    refuse("clone3", errno.ENOSYS)
    seccomp.seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)  # Docker does not set no_new_privs
    if seccomp.seccomp_load(context) != 0:
        raise OSError("seccomp: the filter could not be loaded")


def dropped_capabilities() -> list[str]:
    """Every capability this kernel has that Docker drops by default."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return [f"cap_{name}" for name in CAPABILITIES[: last + 1] if name not in DOCKER_DEFAULT_CAPABILITIES]


def command(argv: list[str]) -> list[str]:
    """``argv`` run Docker-like: this file, which installs the filter, then ``capsh`` dropping capabilities."""
    return [sys.executable, str(Path(__file__).resolve()), *argv]


def main(argv: list[str]) -> None:
    install_seccomp_filter()
    drop = ",".join(dropped_capabilities())
    os.execv(CAPSH, [CAPSH, f"--drop={drop}", "--", "-c", 'exec "$0" "$@"', *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
