"""Student code behind a process boundary: workers for a submission, their limits, what they may send back.

The grader never runs student code and never unpickles anything a worker sends. It
talks to each worker over a channel (``channel.py``) that carries only plain data, bounded
in size and values, and turns every way a worker can fail (an exception, a time-out, a
crash, an exit) into ``StudentCodeFailed`` with a message for the student; the next request
starts a new worker, forked by the zygote (``zygote.py``). The reference is the
instructor's code and runs in the grader itself (``reference.py``).

A submission's notebooks are read once, before any student code runs; every worker is
sent those cells (never the files again). Each notebook runs in workers of its own, and
each function graded on how it is written (``contract.FROM_SCRATCH``) is checked in a
worker of its own that runs its program and nothing else (``program.py``): exactly the
statements the judge reads, so no other code can change what it calls.
"""

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.boundary.channel import MessageRefused, ValueBudget, split_shared
from autograder.boundary.confinement import SHARED_TEMPORARY, Confinement
from autograder.boundary.memory import UidWatch
from autograder.boundary.messages import StudentCodeFailed
from autograder.boundary.notebook import Cell, SubmittedNotebooks, read_submission
from autograder.boundary.program import program
from autograder.boundary.zygote import SpawnedWorkers, Zygote
from autograder.contract import FROM_SCRATCH, NOTEBOOK_OF

STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class Limits:
    """How much time and memory student code may use."""

    call_seconds: float = 30.0  # one call of a graded function or one short scenario
    training_seconds: float = 120.0  # one scenario that trains a model (the lecture's take seconds)
    # All of one submission's calls together: well inside Gradescope's default 10 minutes.
    submission_seconds: float = 420.0
    memory_mb: int | None = 2048  # all the memory of a worker (and what it starts), where the OS can count it
    max_restarts: int = 20  # workers restarted for one submission before giving up
    reply_bytes: int = 8 * 2**20  # one message from a worker: the largest honest reply is a few kB
    reply_values: int = 100_000  # values in one message (a tensor counts one): honest ones hold hundreds


@dataclass
class SubmissionBudget:
    """What the workers of one submission share: the time their code used, restarts, notebooks that cannot load."""

    used_seconds: float = 0.0
    restarts: int = 0
    # Workers (by ``worker_key``) whose code hung or crashed while loading -> why, for the student.
    unloadable: dict[str, str] = field(default_factory=dict)
    # Where the time went, for a grading's profile: (what, kind, seconds), kind "start" (a worker forked, confined and
    # its code loaded), "training" (a probe that trains) or "call".
    spent: list[tuple[str, str, float]] = field(default_factory=list)


def worker_key(name: str) -> str:
    """Which worker runs graded ``name``: its own where it is graded on how it is written, else its notebook's."""
    return name if name in FROM_SCRATCH else NOTEBOOK_OF[name]


class Worker:
    """One process at a time, forked by ``zygote``, that loads one notebook's cells (all of its definitions, or the
    program of the graded name ``key``) and runs requests against them."""

    def __init__(self, submitted: SubmittedNotebooks, key: str, label: str, limits: Limits,
                 zygote: Zygote | SpawnedWorkers, confinement: Confinement, probe_modules: tuple[str, ...],
                 budget: SubmissionBudget) -> None:
        self.submitted = submitted
        self.key = key
        self.notebook = NOTEBOOK_OF.get(key, key)
        self.label = label
        self.limits = limits
        self.zygote = zygote
        self.confinement = confinement
        self.probe_modules = probe_modules  # where the probes the grader will ask for live
        self.budget = budget
        ValueBudget.max_values = limits.reply_values
        self.started = False
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
        self._watch: UidWatch | None = None

    def _start(self) -> None:
        """Start a worker that has loaded its notebook, where it can be loaded."""
        while True:
            if self.started:
                if self.budget.restarts >= self.limits.max_restarts:
                    raise StudentCodeFailed(
                        f"The processes running your code were restarted {self.budget.restarts} times; "
                        "the remaining checks were not run."
                    )
                self.budget.restarts += 1
            self.started = True
            if not self._launch():
                return
            self.stop()

    def _launch(self) -> bool:
        """Launch a worker; False once it is ready, True where its notebook hung or crashed while loading."""
        # Under namespaces a private, empty tmpfs covers this folder; as another user, it is that user's.
        self._workdir = workdir = tempfile.mkdtemp(prefix=f"autograder-{self.label}-")
        self.confinement.prepare(workdir)
        self._pid, self._channel = self.zygote.spawn(workdir, self.confinement.uid, self.limits.memory_mb)
        self._channel.limit = self.limits.reply_bytes
        if self.confinement.mode == "user" and self.confinement.cgroup is None and self.limits.memory_mb:
            # No cgroup counts what its uid holds in all its processes and in files: the grader does.
            pid = self._pid
            self._watch = UidWatch(self.confinement.uid, [*SHARED_TEMPORARY, workdir], self.limits.memory_mb,
                                    lambda: self.zygote.end(pid))
        problems = dict(self.submitted.problems)
        if self.key in self.budget.unloadable:
            problems[self.notebook] = self.budget.unloadable[self.key]
        cells = [] if self.notebook in problems else self.code()
        loading, timeout = False, STARTUP_SECONDS
        try:
            self._channel.send({
                "notebooks": {} if self.notebook in problems else {
                    self.notebook: [[c.filename, c.source, c.only] for c in cells]},
                "problems": problems,
                "label": self.label,
                "probe_modules": list(self.probe_modules),
                "workdir": workdir,
                "memory_mb": self.limits.memory_mb,
                "own_user": self.confinement.uid is not None,
                "cap_address_space": self.confinement.active and self.confinement.cgroup is None,
            }, timeout=STARTUP_SECONDS)
            while True:
                status, value = self._channel.receive(timeout=timeout)
                if status == "ready":
                    return False
                if status == "failed" and not loading:
                    raise RuntimeError(f"a worker could not start: {value}")
                if status != "loading" or value != self.notebook:
                    raise RuntimeError(f"unexpected message from a starting worker: {status!r}")
                loading, timeout = True, self.limits.call_seconds
        except TimeoutError:
            if not loading:
                raise RuntimeError(f"a worker did not start within {STARTUP_SECONDS:g} s") from None
            self.budget.unloadable[self.key] = (
                f"{self.notebook} did not finish loading within {timeout:g} s: some top-level definition "
                "(a default argument, a class body, a decorator) runs forever."
            )
        except (EOFError, OSError, ValueError, TypeError):
            if not loading:
                raise
            self.budget.unloadable[self.key] = (
                f"Loading {self.notebook} stopped the process running your code: some top-level definition "
                "(a default argument, a class body, a decorator) exits or crashes Python."
            )
        return True

    def code(self) -> list[Cell]:
        """The cells this worker runs: its notebook's, or, for a name judged on how it is written, that name's
        program, which is what the judge read."""
        cells = self.submitted.cells.get(self.notebook, [])
        return program(cells, self.key) if self.key in FROM_SCRATCH else cells

    def stop(self) -> None:
        """End the worker and every process it started."""
        if self._watch is not None:
            self._watch.stop()
        if self._channel is not None:
            self._channel.close()
        if self._pid is not None:
            self.confinement.clean_up()  # every process of its uid first, so that its cgroup is empty when removed
            self.zygote.end(self._pid)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._channel = self._pid = self._workdir = self._watch = None

    def renew(self) -> None:
        """End the worker, so that the next request is answered by a new one, with a uid of its own (nothing a uid
        keeps, such as its files, carries over); not a restart: nothing failed."""
        self.stop()
        self.confinement = self.confinement.with_own_uid()
        self.started = False

    def request(self, message: tuple, what: str, timeout: float) -> object:
        """Send ``message``; return the decoded reply, or raise ``StudentCodeFailed``."""
        from autograder.boundary.codec import decode

        if self.test_failure is not None:
            raise self.test_failure.again()
        if what in self.given_up:
            raise self.given_up[what].again()
        left = self.limits.submission_seconds - self.budget.used_seconds
        if left <= 0:
            raise StudentCodeFailed(
                f"Your code has used all {self.limits.submission_seconds:g} s that grading allows "
                "one submission; the remaining checks were not run."
            )
        started = time.monotonic()
        try:
            if self._channel is None:
                self._start()
                self.budget.spent.append((self.key, "start", time.monotonic() - started))
            exchanged = time.monotonic()
            status, payload = self._exchange(message, what, min(timeout, left))
        finally:
            self.budget.used_seconds += time.monotonic() - started
        kind = "training" if timeout == self.limits.training_seconds and message[0] == "probe" else "call"
        self.budget.spent.append((f"{what} ({message[1].rpartition(':')[2]})", kind, time.monotonic() - exchanged))
        if status == "ok":
            return decode(payload)
        stub = payload.get("stub") if type(payload) is dict else None
        message = payload.get("message") if type(payload) is dict else None
        about_submission = type(payload) is dict and payload.get("about_submission") is True
        raise StudentCodeFailed(str(message), tuple(stub) if stub else None, about_submission)

    def _exchange(self, message: tuple, what: str, timeout: float) -> tuple[object, object]:
        """Send ``message`` (its shared buffers as memory where the channel can pass it) to the running worker and
        wait for its reply."""
        kind, name, payload, shared = message
        as_memory = bool(shared) and self._channel.passes_fds
        try:
            if as_memory:
                self._channel.send((kind, name, payload, list(shared)), timeout=timeout,
                                   fds=tuple(buffer.fd for buffer in shared.values()))
            else:  # no shared buffer, or a channel that cannot pass memory (a spawned, unconfined worker)
                self._channel.send((kind, name, payload, {k: b.read() for k, b in shared.items()}), timeout=timeout)
            reply = self._channel.receive(timeout=timeout)
            if type(reply) is not tuple or len(reply) != 3 or reply[0] not in ("ok", "error") or type(reply[2]) is not dict:
                raise EOFError("malformed reply")
            if not as_memory:
                for key, content in reply[2].items():
                    if key in shared and type(content) is bytes:
                        shared[key].write(content)
            return reply[:2]
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
    """The grader's handle on a submission whose code runs in workers.

    ``submission.softmax(z, dim)`` calls the student's ``softmax`` on plain data;
    ``submission.run(probes.x, **data)`` runs one of the grader's scenarios there. The
    notebooks are read once, here, before any student code runs; ``cells`` is that code.
    """

    def __init__(self, directory: Path, label: str, limits: Limits, zygote: Zygote | SpawnedWorkers,
                 confinement: Confinement, probe_modules: tuple[str, ...]) -> None:
        self.submitted = read_submission(Path(directory).resolve(), label)
        self.label, self.limits, self.zygote = label, limits, zygote
        self.confinement, self.probe_modules = confinement, probe_modules
        self.budget = SubmissionBudget()
        self.workers: dict[str, Worker] = {}
        self._early: dict[str, EarlyRun] = {}

    def __repr__(self) -> str:
        return self.label

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)
        from autograder.boundary.codec import encode  # torch: not imported before the grader needs it

        def call(*args: object, **kwargs: object) -> object:
            message = ("call", name, encode((list(args), kwargs)), {})
            return self.worker(name).request(message, name, self.limits.call_seconds)

        return call

    def cells(self, notebook: str) -> list[Cell]:
        """The code of the submitted ``notebook``, as the grader read it before any student code ran and as every
        worker runs it; empty where it is absent or no notebook."""
        return self.submitted.cells.get(notebook, [])

    def worker(self, name: str) -> Worker:
        """The worker that runs graded ``name`` (see ``worker_key``), made on first use."""
        key = worker_key(name)
        if key not in self.workers:
            self.workers[key] = self._new_worker(key, self.budget)
        return self.workers[key]

    def _new_worker(self, key: str, budget: SubmissionBudget) -> Worker:
        # A uid of its own for each: ending one worker (every process of its uid) must not end another.
        return Worker(self.submitted, key, self.label, self.limits, self.zygote, self.confinement.with_own_uid(),
                      self.probe_modules, budget)

    def new_test(self) -> None:
        """A worker's time-out or crash fails the test it happened in, and no other."""
        for worker in self.workers.values():
            worker.test_failure = None

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` (a function of the suite's ``probes`` module) in a worker with ``kwargs``;
        or take its result from the run started early for the same request (``start_early``)."""
        message, what, timeout = probe_request(probe, kwargs, self.limits)
        early = self._early.pop(early_key(message), None) if self._early else None
        if early is not None:
            return early.result(self.worker(graded_name(what)))
        return self.worker(graded_name(what)).request(message, what, timeout)

    def run_afresh(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """``run``, in a new process that has run nothing else of the submission's: what it reports cannot come
        from anything an earlier request left in memory (a model kept in a global, say)."""
        message, what, timeout = probe_request(probe, kwargs, self.limits)
        worker = self.worker(graded_name(what))
        worker.renew()
        return worker.request(message, what, timeout)

    def start_early(self, probe: Callable[..., object], /, **kwargs: object) -> None:
        """Start ``run(probe, **kwargs)`` now, in a worker of its own, beside the other checks.

        A long training run then takes the grading's other core rather than adding to its time;
        the run is deterministic (seeded), so its result is what the check would have got later.
        """
        request = probe_request(probe, kwargs, self.limits)
        # Its time runs beside the other checks', so it is counted apart.
        worker = self._new_worker(worker_key(graded_name(request[1])),
                                  SubmissionBudget(unloadable=self.budget.unloadable, spent=self.budget.spent))
        self._early[early_key(request[0])] = EarlyRun(worker, request)

    def stop(self) -> None:
        """Stop every worker and any early run still going."""
        for early in self._early.values():
            early.worker.stop()
            early.thread.join()
        for worker in self.workers.values():
            worker.stop()


def graded_name(what: str) -> str:
    """The graded name a probe exercises: ``Model`` for "Model.forward"."""
    return what.split(".")[0]


def probe_request(probe: Callable[..., object], kwargs: dict, limits: Limits) -> tuple[tuple, str, float]:
    """The message that runs ``probe`` with ``kwargs`` (its shared buffers apart), the graded function it exercises,
    and its time limit."""
    from autograder.boundary.codec import encode

    timeout = limits.training_seconds if getattr(probe, "trains", False) else limits.call_seconds
    plain, shared = split_shared(kwargs)
    message = ("probe", f"{probe.__module__}:{probe.__name__}", encode(plain), shared)
    return message, probe.exercises.format(**plain), timeout


def early_key(message: tuple) -> str:
    """Which early run answers a request: its probe and its plain arguments as they travel (a tensor as its bytes, not
    as torch prints it, which costs a millisecond a tensor), in a fixed order."""
    return repr((message[1], sorted(message[2].items())))


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
