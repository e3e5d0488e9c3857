"""Student code behind a process boundary: a worker per submission, its limits, what it may send back.

The grader never runs student code and never unpickles anything a worker sends. It
talks to the worker over a channel (``channel.py``) that carries only plain data, bounded
in size and values, and turns every way the worker can fail (an exception, a time-out, a
crash, an exit) into ``StudentCodeFailed`` with a message for the student; the next request
starts a new worker, forked by the zygote (``zygote.py``). The reference is the
instructor's code and runs in the grader itself (``LocalSubmission``).
"""

import errno
import json
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.boundary.channel import MessageRefused, ValueBudget
from autograder.boundary.confinement import Confinement
from autograder.boundary.messages import StudentCodeFailed
from autograder.boundary.zygote import SpawnedWorkers, Zygote
from autograder.contract import GRADED_NAMES, NOTEBOOK_OF

STARTUP_SECONDS = 120.0
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
SMALL_FILE_BYTES = 4096  # nbgrader's timestamp.txt and submission_secret.txt are a line each


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
    """One process, forked by ``zygote``, that loads a submission's notebooks and runs requests against them."""

    def __init__(self, directory: Path, label: str, limits: Limits, zygote: Zygote | SpawnedWorkers,
                 confinement: Confinement, probe_modules: tuple[str, ...] = ()) -> None:
        self.directory = Path(directory).resolve()  # the folder given is trusted; links inside it are not
        self.label = label
        self.limits = limits
        self.zygote = zygote
        self.confinement = confinement
        self.probe_modules = probe_modules  # where the probes the grader will ask for live
        ValueBudget.max_values = limits.reply_values
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
        self._channel = None
        self._pid: int | None = None
        self._workdir: str | None = None

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
        self._pid, self._channel = self.zygote.spawn(workdir, self.confinement.uid)
        self._channel.limit = self.limits.reply_bytes
        found, refused = read_notebooks(self.directory)
        self.unloadable.update(refused)
        notebooks = {name: content for name, content in found.items() if name not in self.unloadable}
        loading, timeout = None, STARTUP_SECONDS
        try:
            self._channel.send({
                "notebooks": notebooks,
                "unloadable": self.unloadable,
                "label": self.label,
                "probe_modules": list(self.probe_modules),
                "workdir": workdir,
                "memory_mb": self.limits.memory_mb,
                "own_user": self.confinement.uid is not None,
            }, timeout=STARTUP_SECONDS)
            while True:
                status, value = self._channel.receive(timeout=timeout)
                if status == "ready":
                    return None
                if status == "failed" and loading is None:
                    raise RuntimeError(f"a worker could not start: {value}")
                if status != "loading" or value not in notebooks:
                    raise RuntimeError(f"unexpected message from a starting worker: {status!r}")
                loading, timeout = value, self.limits.call_seconds
        except TimeoutError:
            if loading is None:
                raise RuntimeError(f"a worker did not start within {STARTUP_SECONDS:g} s") from None
            self.unloadable[loading] = (
                f"{loading} did not finish loading within {timeout:g} s: some top-level definition "
                "(a default argument, a class body, a decorator) runs forever."
            )
        except (EOFError, OSError, ValueError, TypeError):
            if loading is None:
                raise
            self.unloadable[loading] = (
                f"Loading {loading} stopped the process running your code: some top-level definition "
                "(a default argument, a class body, a decorator) exits or crashes Python."
            )
        return loading

    def stop(self) -> None:
        """End the worker and every process it started."""
        if self._channel is not None:
            self._channel.close()
        if self._pid is not None:
            self.zygote.end(self._pid)
            self.confinement.clean_up()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._channel = self._pid = self._workdir = None

    def request(self, message: tuple, what: str, timeout: float) -> object:
        """Send ``message``; return the decoded reply, or raise ``StudentCodeFailed``."""
        from autograder.boundary.codec import decode

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
            return decode(payload)
        stub = payload.get("stub") if type(payload) is dict else None
        message = payload.get("message") if type(payload) is dict else None
        about_submission = type(payload) is dict and payload.get("about_submission") is True
        raise StudentCodeFailed(str(message), tuple(stub) if stub else None, about_submission)


    def _exchange(self, message: tuple, what: str, timeout: float) -> tuple[object, object]:
        """Send ``message`` to the running worker and wait for its reply."""
        try:
            self._channel.send(message, timeout=timeout)
            reply = self._channel.receive(timeout=timeout)
            if type(reply) is not tuple or len(reply) != 2 or reply[0] not in ("ok", "error"):
                raise EOFError("malformed reply")
            return reply
        except TimeoutError:
            self.test_failure = self.given_up[what] = StudentCodeFailed(
                f"{what} did not return within {timeout:g} s; later checks that call it fail at once.")
        except MessageRefused as refused:
            if refused.too_many_values:
                self.test_failure = self.given_up[what] = StudentCodeFailed(
                    f"{what} sent back more than {ValueBudget.max_values} values at once; the grader takes no more. "
                    "Return what the docstring asks for; later checks that call it fail at once."
                )
            else:
                self.test_failure = self.given_up[what] = StudentCodeFailed(
                    f"{what} sent back {refused.size / 2**20:.1f} MB; the grader takes at most "
                    f"{self.limits.reply_bytes / 2**20:g} MB from your code at once. Return what the docstring asks "
                    "for; later checks that call it fail at once."
                )
        except (EOFError, OSError):  # the worker exited, crashed or was killed
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
        self._code: dict[str, str] = {}
        self._early: dict[str, EarlyRun] = {}

    def __repr__(self) -> str:
        return self.worker.label

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)
        from autograder.boundary.codec import encode  # torch: not imported before the grader needs it

        def call(*args: object, **kwargs: object) -> object:
            message = ("call", name, encode((list(args), kwargs)))
            return self.worker.request(message, name, self.worker.limits.call_seconds)

        return call

    def code(self, notebook: str) -> str:
        """The code cells of the submitted ``notebook`` as the grader itself reads the file (never through a
        link, never from the worker), joined; empty where it is absent or not a notebook."""
        if notebook not in self._code:
            self._code[notebook] = code_cells(read_notebooks(self.worker.directory)[0].get(notebook))
        return self._code[notebook]

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` (a function of the suite's ``probes`` module) in the worker with ``kwargs``;
        or take its result from the run started early for the same request (``start_early``)."""
        early = self._early.pop(early_key(probe, kwargs), None)
        if early is not None:
            return early.result(self.worker)
        return self.worker.request(*probe_request(probe, kwargs, self.worker.limits))

    def start_early(self, probe: Callable[..., object], /, **kwargs: object) -> None:
        """Start ``run(probe, **kwargs)`` now, in a worker of its own, beside the other checks.

        A long training run then takes the grading's other core rather than adding to its time;
        the run is deterministic (seeded), so its result is what the check would have got later.
        """
        # A uid of its own too: ending it (every process of its uid) must not end the grading's worker.
        worker = Worker(self.worker.directory, self.worker.label, self.worker.limits, self.worker.zygote,
                        self.worker.confinement.with_own_uid(), self.worker.probe_modules)
        self._early[early_key(probe, kwargs)] = EarlyRun(worker, probe_request(probe, kwargs, worker.limits))

    def stop(self) -> None:
        """Stop the worker and any early run still going."""
        for early in self._early.values():
            early.worker.stop()
            early.thread.join()
        self.worker.stop()


def probe_request(probe: Callable[..., object], kwargs: dict, limits: Limits) -> tuple[tuple, str, float]:
    """The message that runs ``probe`` with ``kwargs``, the graded function it exercises, and its time limit."""
    from autograder.boundary.codec import encode

    timeout = limits.training_seconds if getattr(probe, "trains", False) else limits.call_seconds
    message = ("probe", f"{probe.__module__}:{probe.__name__}", encode(kwargs))
    return message, probe.exercises.format(**kwargs), timeout


def early_key(probe: Callable[..., object], kwargs: dict) -> str:
    """Which early run answers a request: the probe and its arguments (plain values), in a fixed order."""
    return repr((probe.__module__, probe.__name__, sorted(kwargs.items())))


class EarlyRun:
    """One request to a worker of its own, answered in a thread while grading goes on."""

    def __init__(self, worker: Worker, request: tuple[tuple, str, float]) -> None:
        self.worker, self.what = worker, request[1]
        self.value: object = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=request, daemon=True)
        self.thread.start()

    def _run(self, message: tuple, what: str, timeout: float) -> None:
        try:
            self.value = self.worker.request(message, what, timeout)
        except BaseException as error:  # noqa: BLE001 - raised again, in the grader's thread, by result()
            self.failure = error
        finally:
            self.worker.stop()

    def result(self, main: Worker) -> object:
        """The run's value, or its failure raised; a function that hung or crashed in it is given up in ``main`` too,
        as if it had happened there."""
        self.thread.join()
        if self.failure is None:
            return self.value
        if self.what in self.worker.given_up:
            main.given_up.setdefault(self.what, self.worker.given_up[self.what])
        raise self.failure


def code_cells(content: bytes | None) -> str:
    """The code cells of a notebook's bytes, joined; empty where they are no notebook."""
    try:
        cells = json.loads(content)["cells"]
        return "\n\n".join("".join(cell["source"]) if isinstance(cell["source"], list) else str(cell["source"])
                             for cell in cells if cell.get("cell_type") == "code")
    except (TypeError, ValueError, KeyError, AttributeError):
        return ""


class LocalSubmission:
    """The reference: the instructor's code, trusted, loaded in the grader's own process.

    It answers as a worker would, with the same requests and the values through the same
    codec (fresh tensors both ways), so that a comparison with it means what it would mean
    with a worker, without the process, its start-up or its memory.
    """

    def __init__(self, directory: Path, label: str = "reference") -> None:
        from autograder.boundary.notebook import Submission

        self.submission = Submission(Path(directory), label=label, unloadable={})
        self.label = label

    def __repr__(self) -> str:
        return self.label

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)

        def call(*args: object, **kwargs: object) -> object:
            args, kwargs = through_codec((list(args), kwargs))
            return through_codec(getattr(self.submission, name)(*args, **kwargs))

        return call

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` against the reference with ``kwargs``."""
        return through_codec(probe(self.submission, **through_codec(kwargs)))


def through_codec(value: object) -> object:
    """``value`` as the other side of a channel would get it: encoded, then decoded."""
    from autograder.boundary.codec import decode, encode

    return decode(encode(value))
