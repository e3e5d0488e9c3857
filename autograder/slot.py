"""A job slot: one long-lived process that forks a fresh grading run for each request.

    python -m autograder.slot                          a job of ``grade-all`` (``instructor.classroom``)
    python -m autograder.slot --serve SOCKET ...       a student's warm checker (``launch``)

A grading run costs a fresh Python the import of pytest, hypothesis and torch, and torch's
first backward pass: more than the grading itself. A slot pays them once: it imports the
graded suite and what workers need, then, for each request, forks a grading run, which
grades exactly as ``pytest autograder/`` does (its own zygote, workers, uid and results) and
exits. The slot itself never reads a submission, the reference or a result, and never runs
student code, so each fork starts as clean as the first.

As a job of ``grade-all``, on stdin, one JSON line each: first ``{"confinement": ...}``, the class's, or, to the
first slot, ``{"try": [protected paths]}``, which it tries once for the class and answers on stdout with
``{"confinement": ...}`` (so that grade-all itself need not import torch); then ``{"arguments": [pytest's
arguments], "log": path}`` per submission; on stdout, one JSON line per submission: ``{"returncode": n}``.

As a warm checker it serves one user over a Unix socket in a folder only that user can enter:
each connection sends ``{"arguments", "cwd", "digest"}`` with its standard output and error
as file descriptors, and gets ``{"returncode": n}`` once the grading has printed there. It
finds the confinement once, answers ``{"stale": true}`` and ends when asked by a client of
another grader (``digest``), and ends when idle for ``--idle`` seconds, when the process that
owns its session (``--owner``) ends, when a checker started at the same moment bound the
socket over its own (that one serves alone), or when its client goes away mid-grading (the
grading is then interrupted and its workers stopped): nothing of it outlives any of these.
"""

import argparse
import dataclasses
import importlib
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from autograder.boundary import confinement
from autograder.boundary.trial import find_confinement
from autograder.boundary.worker import preload
from autograder.contract import PROBE_MODULES, REFERENCE_DIR, REPO_ROOT
from autograder.fingerprint import grader_name
# The graded test modules, conftest.py and hypothesis's pytest plugin are left for each grading
# to import: pytest rewrites their assertions as it imports them, and a grading must say what
# `pytest autograder/` says. Hypothesis itself (0.5 s of a check) is imported here: a grading
# names its plugin alone (launch.PYTEST_OPTIONS), so pytest has no reason to rewrite it.
GRADING_MODULES = ("hypothesis", "hypothesis.strategies", "hypothesis.extra.numpy")

REQUEST_BYTES = 64 * 1024  # one request: pytest's arguments, a folder, a digest
OWNER_POLL_SECONDS = 5.0  # where the kernel cannot signal a process's end (no pidfd)
SOCKET_POLL_SECONDS = 5.0  # how soon a checker whose socket was removed or replaced notices and ends


def grading_run(arguments: list[str], output: tuple[int, int], cwd: str | None = None,
                watched: tuple[object, ...] = ()) -> int:
    """Fork a grading run of ``pytest arguments`` writing to the file descriptors ``output`` (stdout, stderr);
    its exit code. Where one of ``watched`` (sockets, pidfds) becomes readable first (a client gone, an owner
    ended), the run is interrupted, stops its workers, and its code is 130."""
    forked_at = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 3
        os.environ["AUTOGRADER_FORKED_AT"] = str(forked_at)  # for the grading's profile (conftest.STARTED)
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.dup2(output[0], 1)
            os.dup2(output[1], 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)  # the slot's requests are not the grading's to read
            if cwd is not None:
                os.chdir(cwd)
            code = int(pytest.main(arguments))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    try:
        if watched:
            child = os.pidfd_open(pid)
            try:
                ready, _, _ = select.select([child, *watched], [], [])
                if child not in ready:
                    os.kill(pid, signal.SIGINT)
            finally:
                os.close(child)
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:  # grade-all was interrupted: the grading stops its workers, then the slot stops
        os.kill(pid, signal.SIGINT)
        os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)


def preload_grading() -> None:
    """Import what every grading forked from this slot needs, its workers' modules and hypothesis, and name the grader
    its results name (its files' digest): once, here."""
    for module in GRADING_MODULES:
        importlib.import_module(module)
    grader_name()
    preload(PROBE_MODULES)


def serve_class() -> None:
    """A job of grade-all: import, learn the class's confinement (or try it, where grade-all asks, and say what it
    found), then grade the submissions named on stdin, one at a time (none where grade-all closes stdin first)."""
    preload_grading()
    first = sys.stdin.readline()
    if not first:
        return
    told = json.loads(first)
    if "try" in told:  # a fork of this process, which has imported what a worker needs, as a worker is of a grading
        confinement.known = find_confinement([Path(path) for path in told["try"]])
        print(json.dumps({"confinement": dataclasses.asdict(confinement.known)}), flush=True)
    else:
        confinement.known = confinement.Confinement.from_json(told["confinement"])
    for line in sys.stdin:
        request = json.loads(line)
        with open(request["log"], "w") as log:
            returncode = grading_run(request["arguments"], (log.fileno(), log.fileno()))
        print(json.dumps({"returncode": returncode}), flush=True)


class Owner:
    """The process whose end ends a warm checker (its client's session), watched through a pidfd where the kernel
    has them, else looked at every few seconds; none where ``pid`` is 0."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd = os.pidfd_open(pid) if pid > 0 else None
        except (AttributeError, OSError):
            self.fd = None

    @property
    def poll_seconds(self) -> float | None:
        return OWNER_POLL_SECONDS if self.pid > 0 and self.fd is None else None

    def ended(self, ready: list[object]) -> bool:
        if self.fd is not None:
            return self.fd in ready
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False


def serve_checks(path: Path, digest: str, idle_seconds: float, owner: Owner) -> None:
    """A student's warm checker: serve gradings on the Unix socket ``path`` until idle, stale or orphaned."""
    preload_grading()
    confinement.known = find_confinement([REFERENCE_DIR, REPO_ROOT / "solutions", REPO_ROOT / ".git"])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    own = path.with_name(f"{os.getpid()}.sock")  # no longer than path's own name, which was checked to fit
    old_mask = os.umask(0o177)  # the socket is its user's alone, from the moment it exists
    try:
        own.unlink(missing_ok=True)
        listener.bind(str(own))
    finally:
        os.umask(old_mask)
    listener.listen()
    watched = [listener] + ([owner.fd] if owner.fd is not None else [])
    try:
        if not claim(path, own):
            return
        deadline = time.monotonic() + idle_seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(watched, [], [], min(left, owner.poll_seconds or left, SOCKET_POLL_SECONDS))
            if owner.ended(ready) or not holds(path, own):
                return
            if listener in ready:
                connection, _ = listener.accept()
                with connection:
                    if not answer(connection, digest, owner):
                        return
                deadline = time.monotonic() + idle_seconds
    finally:
        if holds(path, own):
            path.unlink()
        own.unlink(missing_ok=True)
        listener.close()


def claim(path: Path, own: Path) -> bool:
    """Make ``path`` a second name of ``own``, this checker's socket; whether it now is. A link never replaces a
    file, so of checkers started at one moment one gets ``path`` and the others end; a socket on which nobody
    listens (its checker was killed) is replaced."""
    for _ in range(2):
        try:
            os.link(own, path)
            return True
        except FileExistsError:
            if listening(path):
                return False
            path.unlink(missing_ok=True)
    return False


def listening(path: Path) -> bool:
    """Whether a checker accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def holds(path: Path, own: Path) -> bool:
    """Whether ``path`` still names this checker's socket ``own``."""
    try:
        return os.path.samefile(path, own)
    except OSError:
        return False


def answer(connection: socket.socket, digest: str, owner: Owner) -> bool:
    """Grade one client's request; whether to go on serving (not if the client runs another grader)."""
    message, fds, _, _ = socket.recv_fds(connection, REQUEST_BYTES, 2)
    try:
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return True  # no request: another checker asking whether this one listens (see ``listening``)
        if request.get("digest") != digest:
            connection.sendall(json.dumps({"stale": True}).encode())
            return False
        if len(fds) != 2:
            connection.sendall(json.dumps({"error": "no output was given"}).encode())
            return True
        watched = (connection,) + ((owner.fd,) if owner.fd is not None else ())
        code = grading_run(request["arguments"], (fds[0], fds[1]), request["cwd"], watched)
        connection.sendall(json.dumps({"returncode": code}).encode())
        return True
    finally:
        for fd in fds:
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.slot")
    parser.add_argument("--serve", type=Path, help="serve a warm checker on this Unix socket")
    parser.add_argument("--digest", default="", help="the grader this checker runs (see launch.checker_digest)")
    parser.add_argument("--idle", type=float, default=900.0, help="seconds idle before it ends")
    parser.add_argument("--owner", type=int, default=0, help="the process whose end ends it")
    args = parser.parse_args()
    if args.serve is None:
        serve_class()
    else:
        # Ended as a service is (SIGTERM: a hub stopping a user's server, `kill`), a checker stops as on Ctrl-C: its
        # grading interrupted and its workers stopped, its socket removed; the default would leave the socket behind.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        serve_checks(args.serve, args.digest, args.idle, Owner(args.owner))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
