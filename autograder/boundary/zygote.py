"""The zygote: a copy of the grader, made before it reads any answer, that forks every worker of one grading.

Starting Python and importing torch, and torch's first backward pass, take most of the
floor's time; a worker forked from a process that has done them starts in milliseconds.
The grader cannot fork workers itself: once it has loaded the reference (in process, see
``autograder.conftest``) any copy of it would hold the answers, and a worker restarted
after a crash must start as clean as the first. So, once the grader has imported what
workers need and before it reads the reference or any submission, it forks the zygote,
which forgets the grader's environment and then only ever forks workers, on request, each
confining itself before it receives the student's notebooks. A process that has run
student code is never forked again and never reused.

The zygote adopts its orphaned descendants (a child subreaper), so that a worker's pid stays
its own until it reaps it: ending a worker never signals a stranger that reused the pid.
"""

import ctypes
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

from autograder.boundary.channel import Channel
from autograder.boundary.confinement import (PASSED_ON, Confinement, become_subreaper, cgroup_name, close_other_files,
                                             end_process, libc)
from autograder.boundary.memory import remove_cgroup
from autograder.boundary.worker import ONE_THREAD, serve
from autograder.fingerprint import PACKAGE_DIR

SPAWN_SECONDS = 120.0  # for a spawned worker to start Python and call back
CONTROL_BYTES = 4096  # one request or reply between the grader and the zygote: a path and a pid
BYTES_OFFSET = sys.getsizeof(b"") - 1  # where a bytes object's characters start, from its address (CPython)


class Zygote:
    """The grader's handle on its zygote, which forks workers confined by ``confinement``."""

    def __init__(self, confinement: Confinement) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            try:
                run_zygote(confinement, theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.control = pid, ours
        self.lock = threading.Lock()  # one request at a time: a worker may be started from another thread

    def spawn(self, workdir: str, uid: int | None, memory_mb: int | None = None) -> tuple[int, Channel]:
        """A new worker confined to ``workdir``, as ``uid`` where workers get a uid of their own, all its memory
        capped at ``memory_mb`` where a cgroup counts it: its pid and the grader's end of its channel."""
        with self.lock:
            self.control.sendall(json.dumps({"spawn": workdir, "uid": uid, "memory_mb": memory_mb}).encode())
            message, fds, _, _ = socket.recv_fds(self.control, CONTROL_BYTES, 1)
        reply = json.loads(message)
        if "error" in reply:
            raise OSError(reply["error"])
        return reply["pid"], Channel(socket.socket(fileno=fds[0]))

    def end(self, pid: int) -> None:
        """End the worker ``pid`` and everything it started (in namespaces: its whole PID namespace)."""
        with self.lock:
            self.control.sendall(json.dumps({"end": pid}).encode())
            self.control.recv(CONTROL_BYTES)

    def stop(self) -> None:
        """End every worker, then the zygote itself."""
        self.control.close()
        os.waitpid(self.pid, 0)


class SpawnedWorkers:
    """Where Python cannot fork (Windows): each worker a fresh, unconfined Python that calls back over loopback.

    The same interface as ``Zygote``; slower (every worker imports torch), for a student's own laptop.
    """

    def __init__(self) -> None:
        self.processes: dict[int, subprocess.Popen] = {}  # only ever one entry changed at a time: dict ops are atomic

    def spawn(self, workdir: str, uid: int | None, memory_mb: int | None = None) -> tuple[int, Channel]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(SPAWN_SECONDS)
            token = secrets.token_hex(16)  # so that only the worker started here is taken
            code = (f"import sys; sys.path.insert(0, {str(PACKAGE_DIR.parent)!r}); "
                    f"from autograder.boundary.worker import call_back; call_back({listener.getsockname()[1]}, {token!r})")
            process = subprocess.Popen([sys.executable, "-c", code], cwd=workdir, env={**os.environ, **ONE_THREAD},
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.processes[process.pid] = process
            try:
                while True:
                    connection, _ = listener.accept()
                    channel = Channel(connection)
                    if channel.receive(timeout=SPAWN_SECONDS) == token:
                        return process.pid, channel
                    channel.close()
            except (OSError, EOFError) as error:
                self.end(process.pid)
                raise OSError(f"a worker did not start: {error}") from None

    def end(self, pid: int) -> None:
        process = self.processes.pop(pid, None)
        if process is not None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for pid in list(self.processes):
            self.end(pid)


def start_zygote(confinement: Confinement) -> "Zygote | SpawnedWorkers":
    """The zygote, where Python can fork; else a spawner of fresh workers."""
    return Zygote(confinement) if hasattr(os, "fork") else SpawnedWorkers()


def run_zygote(confinement: Confinement, control: socket.socket) -> None:
    """Answer the grader's requests on ``control`` until it closes, then end every worker still running."""
    become_subreaper()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    close_other_files({control.fileno()})
    forget_environment()
    running: set[int] = set()
    cgroups: dict[int, str] = {}  # pid -> the work folder that names its cgroup, until the grader ends it
    while message := control.recv(CONTROL_BYTES):
        request = json.loads(message)
        if "spawn" in request:
            try:
                pid, channel = replace(confinement, uid=request["uid"]).start(request["spawn"], serve,
                                                                              request["memory_mb"])
            except OSError as error:
                control.sendall(json.dumps({"error": str(error)}).encode())
            else:
                running.add(pid)
                cgroups[pid] = request["spawn"]
                socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [channel.connection.fileno()])
                channel.close()
        else:
            end_worker(confinement, request["end"], running, cgroups)
            control.sendall(b"{}")
        reap_orphans(running)
    for pid in list(cgroups):
        end_worker(confinement, pid, running, cgroups)


def end_worker(confinement: Confinement, pid: int, running: set[int], cgroups: dict[int, str]) -> None:
    """End a worker and everything it started, if it still runs, and remove its cgroup."""
    if pid in running:
        running.discard(pid)
        end_process(pid)
    workdir = cgroups.pop(pid, None)
    if workdir is not None and confinement.cgroup is not None:
        remove_cgroup(Path(confinement.cgroup), cgroup_name(workdir))


def reap_orphans(running: set[int]) -> None:
    """Reap every child that has exited: adopted orphans, and workers that ended on their own (forgotten, so
    that their pids, free again, are never signalled)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        running.discard(pid)


def forget_environment() -> None:
    """Overwrite the grader's environment variables (tokens, paths) in this process's memory, then drop them
    but the few a worker is given (``confinement.PASSED_ON``).

    A worker is a copy of this process and can read its own memory: the environment the kernel
    gave the grader (what /proc/self/environ shows) and Python's one copy of it (the bytes in
    ``os.environ``) are overwritten with zeros. A copy some library made of a variable would
    linger: the package's commands therefore start the grader with only the variables it needs
    (``autograder.launch.grader_environment``).
    """
    kept = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    # Fields 50 and 51 of /proc/self/stat: where the kernel put the environment, in this process's memory.
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])
    ctypes.memset(start, 0, end - start)
    for value in os.environ._data.values():  # CPython's own copy, bytes
        if len(value) > 1:  # bytes of one character are the interpreter's shared singletons
            ctypes.memset(id(value) + BYTES_OFFSET, 0, len(value))
    libc.clearenv()
    os.environ.clear()
    os.environ.update(kept)
