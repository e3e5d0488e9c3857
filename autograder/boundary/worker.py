"""The worker: the only process that runs student code.

The grader starts it with execnet and sends ``serve(channel)`` to run in it. Requests
are ``("call", name, (args, kwargs))``, to call a graded function on plain data, and
``("probe", "module:name", kwargs)``, to run one of the grader's scenarios (a function of
the graded suite's ``probes`` module, named by the grader) against the student's
definitions. Every reply is plain data (see ``autograder.boundary.codec``): ``("ok", value)``
or ``("error", failure)``, where a failure is a dict with a message already written for
the student.
"""

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.boundary.messages import bounded, describe, unimplemented_stub
from autograder.boundary.notebook import SubmissionError

# Processes this worker's user may run at once (only where that user is the worker's own: the
# limit counts every process of the user), and the largest file it may write: a fork bomb or a
# disk filler stops there.
MAX_PROCESSES = 256
MAX_FILE_BYTES = 256 * 2**20


def limit_resources(megabytes: int | None, own_user: bool) -> None:
    """Cap the worker's data segment (heap and anonymous memory), file sizes and, as its own user, processes."""
    try:
        import resource
    except ImportError:  # Windows
        return
    limits = [(resource.RLIMIT_FSIZE, MAX_FILE_BYTES)]
    if own_user:
        limits.append((resource.RLIMIT_NPROC, MAX_PROCESSES))
    if megabytes:
        limits.append((resource.RLIMIT_DATA, megabytes * 1024 * 1024))
    for which, limit in limits:
        resource.setrlimit(which, (limit, limit))


def silence_output() -> None:
    """Send the student's prints and warnings to /dev/null: the grader reads only the channel."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def failure(error: BaseException, cell_filenames: set[str]) -> dict[str, object]:
    """A failure report for the grader: what went wrong, in the student's terms."""
    stub = unimplemented_stub(error, cell_filenames)
    message = describe(error, cell_filenames)
    if message is None:
        message = (
            f"While checking your code the grader met {type(error).__name__}: {error}. "
            "This usually means a function returned something other than what its docstring says."
        )
    return {
        "message": bounded(message),
        "stub": None if stub is None else [stub.name, stub.filename],
        "about_submission": isinstance(error, SubmissionError),
    }


def load_probes(modules: list[str]) -> dict[str, Callable[..., object]]:
    """Every probe of ``modules`` by ``"module:name"``, taken before any student code is loaded.

    Requests then name a probe from this table, so that student code that replaces a probe
    in its module (``setattr(probes, name, fake)``) changes nothing the grader asks for.
    """
    table = {}
    for module_name in modules:
        for name, function in vars(importlib.import_module(module_name)).items():
            if callable(function) and hasattr(function, "exercises"):
                table[f"{module_name}:{name}"] = function
    return table


def serve(channel) -> None:
    """Answer requests on ``channel`` until it closes."""
    from autograder.boundary.codec import decode, encode
    from autograder.boundary.notebook import Submission, SubmissionError

    settings = channel.receive()
    probes = load_probes(settings["probe_modules"])
    if hasattr(os, "setsid"):
        try:
            os.setsid()  # so that the grader can end every process this worker starts
        except OSError:
            pass  # already a session leader, e.g. as the first process of a PID namespace
    os.environ["MPLBACKEND"] = "Agg"  # notebooks import matplotlib; there is no screen here
    workdir = Path(settings["workdir"])
    os.chdir(workdir)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    notebooks = workdir / "submission"
    notebooks.mkdir(exist_ok=True)
    for name, content in settings["notebooks"].items():
        (notebooks / Path(name).name).write_bytes(content)
    submission = Submission(notebooks, label=settings["label"], unloadable=settings["unloadable"])
    silence_output()
    limit_resources(settings["memory_mb"], settings["own_user"])
    # Load every notebook now, saying which one is loading, so that the grader can tell
    # which notebook hangs or crashes at load and start a new worker without it.
    for name in sorted(settings["notebooks"]):
        channel.send(("loading", name))
        try:
            submission.notebook(name)
        except SubmissionError:
            pass  # unreadable: each check that needs it says so
    channel.send(("ready", os.getpid()))
    for kind, name, payload in channel:
        try:
            if kind == "call":
                args, kwargs = decode(payload)
                value = getattr(submission, name)(*args, **kwargs)
            else:
                value = probes[name](submission, **decode(payload))
            reply = ("ok", encode(value))
        except BaseException as error:  # student code may raise anything, SystemExit included
            reply = ("error", failure(error, submission.cell_filenames))
        channel.send(reply)
    # The grader closed the channel: grading is over. Skip Python's shutdown (torch's takes
    # most of a second); nothing here needs saving, and the grader waits for this exit.
    os._exit(0)
