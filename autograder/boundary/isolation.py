"""Student code behind a process boundary: a worker per submission, its limits, what it may send back.

The grader never runs student code and never unpickles anything a worker sends. It
talks to the worker over an execnet channel, whose serializer carries only plain data,
and turns every way the worker can fail (an exception, a time-out, a crash, an exit) into
``StudentCodeFailed`` with a message for the student; the next request starts a new worker.
"""

import errno
import json
import os
import shlex
import shutil
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import execnet

from autograder.boundary.confinement import Confinement
from autograder.boundary.reply_cache import ReplyCache
from autograder.contract import GRADED_NAMES, NOTEBOOK_OF

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # so that a worker imports this very package
STARTUP_SECONDS = 120.0
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
SMALL_FILE_BYTES = 4096  # nbgrader's timestamp.txt and submission_secret.txt are a line each
# One thread per worker, set before torch and numpy load: the assignment's tensors are tiny,
# a class is graded one worker per core, and every thread's buffers count against the
# memory cap (on a 16-core machine, OpenBLAS's alone broke a 2 GB cap).
WORKER_THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class Limits:
    """How much time and memory student code may use."""

    call_seconds: float = 30.0  # one call of a graded function or one short scenario
    training_seconds: float = 120.0  # one scenario that trains a model (the lecture's take seconds)
    # All of one submission's calls together: well inside Gradescope's default 10 minutes.
    submission_seconds: float = 420.0
    memory_mb: int | None = 2048  # the worker's heap, where the OS can cap it
    max_restarts: int = 20  # workers started for one submission before giving up
    reply_bytes: int = 8 * 2**20  # one message from a worker: the largest honest reply is a few kB
    reply_values: int = 100_000  # values in one message (a tensor counts one): honest ones hold hundreds


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

    def again(self) -> "StudentCodeFailed":
        """The same failure as a new exception, without the notes (hypothesis's examples) the first one gathered."""
        return StudentCodeFailed(str(self), self.stub)


class ReplyLimit:
    """The largest message the grader accepts from a worker, and the most values in it, enforced as execnet reads it.

    A worker runs student code, which can reach its channel and send anything: the size is
    checked from the message's header, before its bytes are read, and the values are counted
    as execnet rebuilds them (a list's declared length included, which execnet would allocate
    at once), so that no reply can make the grader hold or build more than this. A refused
    message ends the worker, as a crash would.
    """

    limit: int | None = None  # set by the grader's first Worker; a worker's own process reads without a limit
    max_values: int | None = None  # likewise
    refused: int | None = None  # the size of the last message refused
    too_many_values = False  # whether the last message refused had too many values

    @classmethod
    def read_message(cls, io: object) -> execnet.gateway_base.Message:
        header = io.read(9)  # type 1, channel 4, payload 4: execnet's wire format
        if not header:
            raise EOFError("empty read")
        code, channel, size = struct.unpack("!bii", header)
        if cls.limit is not None and size > cls.limit:
            cls.refused = size
            raise EOFError(f"a message of {size} bytes, more than the grader accepts")
        return execnet.gateway_base.Message(code, channel, io.read(size))


    @classmethod
    def counting(cls, load: Callable[[object], None]) -> Callable[[object], None]:
        """execnet's loader of one value, refusing the value past ``max_values`` in one message."""

        def counted(unserializer: object) -> None:
            if cls.max_values is not None:
                unserializer.values_loaded = getattr(unserializer, "values_loaded", 0) + 1
                if unserializer.values_loaded > cls.max_values:
                    cls.too_many_values = True
                    raise execnet.gateway_base.LoadError("more values than the grader takes in one message")
            load(unserializer)

        return counted

    @classmethod
    def load_newlist(cls, unserializer: object) -> None:
        """execnet's NEWLIST, which allocates the declared length at once: refused beyond ``max_values``."""
        length = unserializer._read_int4()
        if cls.max_values is not None and not 0 <= length <= cls.max_values:
            cls.too_many_values = True
            raise execnet.gateway_base.LoadError(f"a list of {length} values")
        unserializer.stack.append([None] * length)


execnet.gateway_base.Message.from_io = staticmethod(ReplyLimit.read_message)
_LOADERS = execnet.gateway_base.Unserializer.num2func
_LOADERS[execnet.gateway_base.opcode.NEWLIST] = ReplyLimit.load_newlist
_LOADERS.update({code: ReplyLimit.counting(load) for code, load in _LOADERS.items()})


def read_notebooks(directory: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The assignment's notebooks in ``directory`` as bytes, and why any present could not be taken.

    Each is opened without following links and must be a regular file of a bounded size: a
    link to the reference, or to a system file, is refused with a message for the student.
    """
    notebooks, problems = {}, {}
    try:
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return notebooks, problems
    try:
        for name in GRADED_NAMES:
            content, problem = read_regular_file(name, folder, MAX_NOTEBOOK_BYTES)
            if content is not None:
                notebooks[name] = content
            elif problem is not None:
                problems[name] = problem
    finally:
        os.close(folder)
    return notebooks, problems


def read_submitted_file(path: Path, limit: int = SMALL_FILE_BYTES) -> bytes | None:
    """The bytes of a file a submission holds, if it is a regular file (not a link) of at most ``limit`` bytes."""
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return read_regular_file(path.name, folder, limit)[0]
    finally:
        os.close(folder)


def read_regular_file(name: str, folder: int, limit: int) -> tuple[bytes | None, str | None]:
    """The bytes of the file ``name`` in the open ``folder``; or None and why not (None if it is absent)."""
    try:
        handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, f"{name} is a symbolic link; submit the notebook itself."
        return None, f"{name} could not be opened ({error.strerror})."
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, f"{name} is not a regular file; submit the notebook itself."
        if info.st_size > limit:
            return None, f"{name} is larger than {limit // 2**20} MB; clear its outputs and submit it again."
        return file.read(limit + 1), None


class Worker:
    """One process that loads a submission's notebooks and runs requests against them."""

    def __init__(self, directory: Path, label: str, limits: Limits, confinement: Confinement,
                 cache: ReplyCache | None = None, probe_modules: tuple[str, ...] = ()) -> None:
        self.directory = Path(directory).resolve()  # the folder given is trusted; links inside it are not
        self.label = label
        self.limits = limits
        self.confinement = confinement
        self.probe_modules = probe_modules  # where the probes the grader will ask for live
        ReplyLimit.limit, ReplyLimit.max_values = limits.reply_bytes, limits.reply_values
        # Only for the reference: its replies, so that a request asked before needs no process.
        self.cache = cache
        self.used_seconds = 0.0
        self.starts = 0
        self.unloadable: dict[str, str] = {}
        # A time-out or crash in the current test; later requests in that test fail the same
        # way at once, so that hypothesis's shrinking does not restart the worker again and again.
        self.test_failure: StudentCodeFailed | None = None
        # A graded function that ran out of time, sent back too much or ended the process once
        # fails every later call at once, with the same message: a hang costs one time-out, and
        # a crash one restart, not one per test.
        self.given_up: dict[str, StudentCodeFailed] = {}
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
        # Under namespaces a private, empty tmpfs covers this folder; as another user, it is that user's.
        self._workdir = workdir = tempfile.mkdtemp(prefix=f"autograder-{self.label}-")
        self.confinement.prepare(workdir)
        python = shlex.join([*self.confinement.prefix(workdir), sys.executable])
        self._group = execnet.Group()
        gateway = self._group.makegateway(f"popen//python={python}")
        self._channel = gateway.remote_exec(
            f"import os, sys; os.environ.update({WORKER_THREADS!r}); sys.path.insert(0, {str(PACKAGE_PARENT)!r}); "
            "from autograder.boundary.worker import serve; serve(channel)"
        )
        found, refused = read_notebooks(self.directory)
        self.unloadable.update(refused)
        notebooks = {name: content for name, content in found.items() if name not in self.unloadable}
        self._channel.send({
            "notebooks": notebooks,
            "unloadable": self.unloadable,
            "label": self.label,
            "probe_modules": list(self.probe_modules),
            "workdir": workdir,
            "memory_mb": self.limits.memory_mb,
            "own_user": self.confinement.uid is not None,
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
            if not self.confinement.active and self._pid is not None and hasattr(os, "killpg"):
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
            self.confinement.clean_up()
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
            raise self.test_failure.again()
        if what in self.given_up:
            raise self.given_up[what].again()
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
            self.test_failure = self.given_up[what] = StudentCodeFailed(
                f"{what} did not return within {timeout:g} s; later checks that call it fail at once.")
        except (EOFError, execnet.RemoteError, OSError):  # the worker exited, crashed or was killed
            refused, ReplyLimit.refused = ReplyLimit.refused, None
            too_many, ReplyLimit.too_many_values = ReplyLimit.too_many_values, False
            if too_many:
                self.test_failure = self.given_up[what] = StudentCodeFailed(
                    f"{what} sent back more than {ReplyLimit.max_values} values at once; the grader takes no more. "
                    "Return what the docstring asks for; later checks that call it fail at once."
                )
            elif refused is not None:
                self.test_failure = self.given_up[what] = StudentCodeFailed(
                    f"{what} sent back {refused / 2**20:.1f} MB; the grader takes at most "
                    f"{ReplyLimit.limit / 2**20:g} MB from your code at once. Return what the docstring asks for; "
                    "later checks that call it fail at once."
                )
            else:
                self.test_failure = self.given_up[what] = StudentCodeFailed(
                    f"The process running your code stopped while running {what} "
                    "(it exited, crashed, or ran out of memory); later checks that call it fail at once."
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

    def code(self, notebook: str) -> str:
        """The code cells of the submitted ``notebook`` as the grader itself reads the file (never through a
        link, never from the worker), joined; empty where it is absent or not a notebook."""
        content = read_notebooks(self.worker.directory)[0].get(notebook)
        try:
            cells = json.loads(content)["cells"]
            return "\n\n".join("".join(cell["source"]) if isinstance(cell["source"], list) else str(cell["source"])
                                 for cell in cells if cell.get("cell_type") == "code")
        except (TypeError, ValueError, KeyError, AttributeError):
            return ""

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` (a function of the suite's ``probes`` module) in the worker with ``kwargs``."""
        limits = self.worker.limits
        timeout = limits.training_seconds if getattr(probe, "trains", False) else limits.call_seconds
        from autograder.boundary.codec import encode  # not at the top: see __getattr__

        message = ("probe", f"{probe.__module__}:{probe.__name__}", encode(kwargs))
        return self.worker.request(message, probe.exercises.format(**kwargs), timeout)
