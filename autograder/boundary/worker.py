"""The worker: the only process that runs student code.

The grader starts it with execnet and sends ``serve(channel)`` to run in it. Requests
are ``("call", name, (args, kwargs))``, to call a graded function on plain data, and
``("probe", "module:name", kwargs)``, to run one of the grader's scenarios (a function of
the graded suite's ``probes`` module, named by the grader) against the student's definitions. Every reply is plain data (see ``autograder.boundary.codec``):
``("ok", value)`` or ``("error", failure)``, where a failure is a dict with a message
already written for the student.
"""

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.boundary.messages import describe, unimplemented_stub
from autograder.boundary.notebook import SubmissionError


def limit_memory(megabytes: int | None) -> None:
    """Cap the worker's data segment (heap and anonymous memory) where the OS supports it."""
    if not megabytes:
        return
    try:
        import resource
    except ImportError:  # Windows
        return
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


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
        "message": message,
        "stub": None if stub is None else [stub.name, stub.filename],
        "about_submission": isinstance(error, SubmissionError),
    }


def find_probe(qualified_name: str) -> Callable[..., object]:
    """The probe ``"module:name"``; the grader names it, so the boundary need not import the suite."""
    module_name, _, name = qualified_name.partition(":")
    probe = getattr(importlib.import_module(module_name), name)
    if not hasattr(probe, "exercises"):
        raise TypeError(f"{qualified_name} is not a probe")
    return probe


def serve(channel) -> None:
    """Answer requests on ``channel`` until it closes."""
    from autograder.boundary.codec import decode, encode
    from autograder.boundary.notebook import Submission, SubmissionError

    settings = channel.receive()
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
    limit_memory(settings["memory_mb"])
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
                value = find_probe(name)(submission, **decode(payload))
            reply = ("ok", encode(value))
        except BaseException as error:  # student code may raise anything, SystemExit included
            reply = ("error", failure(error, submission.cell_filenames))
        channel.send(reply)
    # The grader closed the channel: grading is over. Skip Python's shutdown (torch's takes
    # most of a second); nothing here needs saving, and the grader waits for this exit.
    os._exit(0)
