"""Student code behind a process boundary: a worker per submission, its limits, its sandbox.

The grader never runs student code and never unpickles anything a worker sends. It
talks to the worker over an execnet channel, whose serializer carries only plain data,
and turns every way the worker can fail (an exception, a time-out, a crash, an exit) into
``StudentCodeFailed`` with a message for the student; the next request starts a new worker.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import execnet

from autograder.contract import GRADED_NAMES, NOTEBOOK_OF
from autograder.boundary.reply_cache import ReplyCache

SANDBOX_SCRIPT = Path(__file__).with_name("sandbox.sh")
PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # so that a worker imports this very package
STARTUP_SECONDS = 120.0
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
# One thread per worker, set before torch and numpy load: the assignment's tensors are tiny,
# a class is graded one worker per core, and every thread's buffers count against the
# memory cap (on a 16-core machine, OpenBLAS's alone broke a 2 GB cap).
WORKER_THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class Limits:
    """How much time and memory student code may use."""

    call_seconds: float = 30.0  # one call of a graded function or one short scenario
    training_seconds: float = 300.0  # one scenario that trains a model
    submission_seconds: float = 900.0  # all of one submission's calls together
    memory_mb: int | None = 2048  # the worker's heap, where the OS can cap it
    max_restarts: int = 20  # workers started for one submission before giving up


class StudentCodeFailed(Exception):
    """Student code raised, hung, crashed or exceeded a limit; the message is for the student.

    ``stub`` is ``(qualified name, cell)`` when the cause is an untouched ``raise NotImplementedError()``;
    ``about_submission`` is true when it is the submission as a whole (a notebook or name missing
    or unreadable), which no input of the student's function explains.
    """

    def __init__(self, message: str, stub: tuple[str, str] | None = None, about_submission: bool = False) -> None:
        super().__init__(message)
        self.stub = stub
        self.about_submission = about_submission


@dataclass(frozen=True)
class Sandbox:
    """How workers are confined here: Linux namespaces hiding ``hidden`` paths, or none, and why."""

    active: bool
    description: str
    hidden: tuple[str, ...] = ()

    def prefix(self, workdir: str) -> list[str]:
        """The command that runs a worker confined, with ``workdir`` its only writable place."""
        return sandbox_prefix(workdir, self.hidden) if self.active else []


def sandbox_prefix(workdir: str, hidden: tuple[str, ...]) -> list[str]:
    """``unshare`` into new mount, network and PID namespaces, then ``sandbox.sh``."""
    flags = ["--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]  # unprivileged user namespaces
    return ["unshare", *flags, "--", "sh", str(SANDBOX_SCRIPT), workdir, *hidden, "--"]


def no_sandbox(reason: str) -> Sandbox:
    """Workers run as plain processes; ``reason`` says why."""
    return Sandbox(False, f"no sandbox: {reason}")


def find_sandbox(hidden: list[Path]) -> Sandbox:
    """The strongest confinement this machine allows, tried for real once."""
    if not sys.platform.startswith("linux"):
        return no_sandbox(f"it needs Linux, and this is {sys.platform}")
    missing = [tool for tool in ("unshare", "setpriv") if shutil.which(tool) is None]
    if missing:
        return no_sandbox(f"{' and '.join(missing)} not found (util-linux)")
    sandbox = Sandbox(True, "sandboxed in its own mount, network and PID namespaces, read-only files, no capabilities",
                      tuple(str(path.resolve()) for path in hidden))
    workdir = tempfile.mkdtemp(prefix="autograder-sandbox-test-")
    try:
        trial = subprocess.run([*sandbox.prefix(workdir), sys.executable, "-c", "pass"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return no_sandbox(f"trying it failed ({error})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if trial.returncode != 0:
        reason = (trial.stderr.strip().splitlines() or [f"exit code {trial.returncode}"])[-1]
        return no_sandbox(f"Linux namespaces are not available here ({reason})")
    return sandbox


def read_notebooks(directory: Path) -> dict[str, bytes]:
    """The assignment's notebooks found in ``directory``, as bytes, for the worker to load."""
    notebooks = {}
    for name in GRADED_NAMES:
        path = directory / name
        if path.is_file() and path.stat().st_size <= MAX_NOTEBOOK_BYTES:
            notebooks[name] = path.read_bytes()
    return notebooks


class Worker:
    """One process that loads a submission's notebooks and runs requests against them."""

    def __init__(self, directory: Path, label: str, limits: Limits, sandbox: Sandbox,
                 cache: ReplyCache | None = None) -> None:
        self.directory = Path(directory)
        self.label = label
        self.limits = limits
        self.sandbox = sandbox
        # Only for the reference: its replies, so that a request asked before needs no process.
        self.cache = cache
        self.used_seconds = 0.0
        self.starts = 0
        self.unloadable: dict[str, str] = {}
        # A time-out or crash in the current test; later requests in that test fail the same
        # way at once, so that hypothesis's shrinking does not restart the worker again and again.
        self.test_failure: StudentCodeFailed | None = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._group: execnet.Group | None = None
        self._channel = None
        self._pid: int | None = None
        self._workdir: str | None = None

    def prestart(self) -> None:
        """Start the worker in the background, so that it boots while the grader gets ready."""
        self._starting = threading.Thread(target=self._start_in_background, daemon=True)
        self._starting.start()

    def _start_in_background(self) -> None:
        try:
            self._start()
        except BaseException as error:  # raised again by the first request
            self._start_error = error

    def _start(self) -> None:
        """Start a worker that has loaded every notebook that can be loaded."""
        while True:
            if self.starts >= self.limits.max_restarts:
                raise StudentCodeFailed(
                    f"The process running your code was restarted {self.starts} times; "
                    "the remaining checks were not run."
                )
            self.starts += 1
            loading = self._launch()
            if loading is None:
                return
            self.stop()

    def _launch(self) -> str | None:
        """Launch a worker; None once it is ready, else the notebook it was loading when it failed."""
        # In the sandbox a private, empty tmpfs covers this folder.
        self._workdir = workdir = tempfile.mkdtemp(prefix=f"autograder-{self.label}-")
        python = shlex.join([*self.sandbox.prefix(workdir), sys.executable])
        self._group = execnet.Group()
        gateway = self._group.makegateway(f"popen//python={python}")
        self._channel = gateway.remote_exec(
            f"import os, sys; os.environ.update({WORKER_THREADS!r}); sys.path.insert(0, {str(PACKAGE_PARENT)!r}); "
            "from autograder.boundary.worker import serve; serve(channel)"
        )
        notebooks = {name: content for name, content in read_notebooks(self.directory).items()
                     if name not in self.unloadable}
        self._channel.send({
            "notebooks": notebooks,
            "unloadable": self.unloadable,
            "label": self.label,
            "workdir": workdir,
            "memory_mb": self.limits.memory_mb,
        })
        loading, timeout = None, STARTUP_SECONDS
        try:
            while True:
                status, value = self._channel.receive(timeout=timeout)
                if status == "ready" and type(value) is int:
                    self._pid = value
                    return None
                if status != "loading" or value not in notebooks:
                    raise RuntimeError(f"unexpected message from a starting worker: {status!r}")
                loading, timeout = value, self.limits.call_seconds
        except execnet.TimeoutError:
            if loading is None:
                raise RuntimeError(f"a worker did not start within {STARTUP_SECONDS:g} s") from None
            self.unloadable[loading] = (
                f"{loading} did not finish loading within {timeout:g} s: some top-level definition "
                "(a default argument, a class body, a decorator) runs forever."
            )
        except (EOFError, execnet.RemoteError, OSError):
            if loading is None:
                raise
            self.unloadable[loading] = (
                f"Loading {loading} stopped the process running your code: some top-level definition "
                "(a default argument, a class body, a decorator) exits or crashes Python."
            )
        return loading

    def stop(self) -> None:
        """End the worker and every process it started."""
        starting = self._starting
        if starting is not None and starting is not threading.current_thread():
            starting.join()
            self._starting = None
        if self._group is not None:
            if not self.sandbox.active and self._pid is not None and hasattr(os, "killpg"):
                try:
                    os.killpg(self._pid, 9)  # the worker made itself a session and group leader
                except OSError:
                    pass
            if self._channel is not None:
                try:
                    self._channel.close()  # ends the worker's request loop, so its gateway exits at once
                except (OSError, EOFError):
                    pass
            self._group.terminate(timeout=1.0)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._group = self._channel = self._pid = self._workdir = None

    def request(self, message: tuple, what: str, timeout: float) -> object:
        """Send ``message``; return the decoded reply, or raise ``StudentCodeFailed``."""
        from autograder.boundary.codec import decode  # not at the top: see RemoteSubmission.__getattr__

        cached = None if self.cache is None else self.cache.get(message)
        if cached is not None:
            return decode(cached)
        if self._starting is not None:
            self._starting.join()
            self._starting = None
            if self._start_error is not None:
                error, self._start_error = self._start_error, None
                raise error
        if self.test_failure is not None:
            raise self.test_failure
        left = self.limits.submission_seconds - self.used_seconds
        if left <= 0:
            raise StudentCodeFailed(
                f"Your code has used all {self.limits.submission_seconds:g} s that grading allows "
                "one submission; the remaining checks were not run."
            )
        started = time.monotonic()
        try:
            if self._channel is None:
                self._start()
            status, payload = self._exchange(message, what, min(timeout, left))
        finally:
            self.used_seconds += time.monotonic() - started
        if status == "ok":
            if self.cache is not None:
                self.cache.put(message, payload)
            return decode(payload)
        stub = payload.get("stub") if type(payload) is dict else None
        message = payload.get("message") if type(payload) is dict else None
        about_submission = type(payload) is dict and payload.get("about_submission") is True
        raise StudentCodeFailed(str(message), tuple(stub) if stub else None, about_submission)


    def _exchange(self, message: tuple, what: str, timeout: float) -> tuple[object, object]:
        """Send ``message`` to the running worker and wait for its reply."""
        try:
            self._channel.send(message)
            reply = self._channel.receive(timeout=timeout)
            if type(reply) is not tuple or len(reply) != 2 or reply[0] not in ("ok", "error"):
                raise EOFError("malformed reply")
            return reply
        except execnet.TimeoutError:
            self.test_failure = StudentCodeFailed(f"{what} did not return within {timeout:g} s.")
        except (EOFError, execnet.RemoteError, OSError):  # the worker exited, crashed or was killed
            self.test_failure = StudentCodeFailed(
                f"The process running your code stopped while running {what} "
                "(it exited, crashed, or ran out of memory)."
            )
        self.stop()
        raise self.test_failure


class RemoteSubmission:
    """The grader's handle on a submission running in a worker.

    ``submission.softmax(z, dim)`` calls the student's ``softmax`` on plain data;
    ``submission.run(probes.x, **data)`` runs one of the grader's scenarios there.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def __repr__(self) -> str:
        return self.worker.label

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)

        # codec imports torch, which takes most of a second; importing it only here lets the
        # grader start the worker first, so that both import torch at the same time.
        from autograder.boundary.codec import encode

        def call(*args: object, **kwargs: object) -> object:
            message = ("call", name, encode((list(args), kwargs)))
            return self.worker.request(message, name, self.worker.limits.call_seconds)

        return call

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` (a function of the suite's ``probes`` module) in the worker with ``kwargs``."""
        limits = self.worker.limits
        timeout = limits.training_seconds if getattr(probe, "trains", False) else limits.call_seconds
        from autograder.boundary.codec import encode  # not at the top: see __getattr__

        message = ("probe", f"{probe.__module__}:{probe.__name__}", encode(kwargs))
        return self.worker.request(message, probe.exercises.format(**kwargs), timeout)
