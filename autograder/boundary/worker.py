"""The worker: the only process that runs student code.

The zygote forks it (see ``zygote.py``) and, once it has confined itself, it runs
``serve(channel)``. It is sent the cells of one notebook, as the grader read them, and
loads their definitions. Requests are ``("call", name, (args, kwargs), {})``, to call a graded function on plain data, and
``("probe", "module:name", kwargs, shared)``, to run one of the grader's scenarios (a function of
the graded suite's ``probes`` module, named by the grader) against the student's
definitions, with the grader's shared buffers (``channel.SharedBuffer``) as more keyword
arguments. Every reply is plain data (see ``autograder.boundary.codec``): ``("ok", value, {})``
or ``("error", failure, {})``, where a failure is a dict with a message already written for
the student; where the buffers could not be shared as memory, the reply carries their bytes.
"""

import gc
import importlib
import io
import mmap
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.boundary.channel import Channel, ValueBudget
from autograder.boundary.memory import cap_address_space
from autograder.boundary.messages import bounded, describe, raised, student_frames, unimplemented_stub
from autograder.boundary.notebook import SubmissionError

# Processes this worker's user may run at once (only where that user is the worker's own: the
# limit counts every process of the user), and the largest file it may write: a fork bomb or a
# disk filler stops there.
MAX_PROCESSES = 256
MAX_FILE_BYTES = 256 * 2**20
# One thread for torch, OpenMP and OpenBLAS, set before they load: the assignment's tensors are
# tiny, a class is graded one grading per core, every thread's buffers count against a worker's
# memory cap (on a 16-core machine, OpenBLAS's alone broke a 2 GB cap), and a process must have
# no other thread when it forks the zygote.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
# What the assignment's notebooks (their grade cells too) and the grader's scenarios import, loaded once
# before the zygote forks (see preload): a worker then needs nothing from disk.
PRELOADED = ("numpy", "torch", "torch.nn", "torch.optim", "torch.utils.data", "matplotlib.pyplot",
             "sklearn.datasets", "sklearn.model_selection", "autograder.boundary.codec", "autograder.boundary.notebook",
             "autograder.cell")


def preload(probe_modules: tuple[str, ...]) -> None:
    """Import what every worker needs, and let torch set up autograd, its optimizers and its file format, in this
    process.

    Workers forked afterwards find it done: in a fresh process the imports take about 3 s and
    torch's first backward pass another 2 s, more than the assignment's training runs; and a
    confined worker may not be able to read the modules torch imports only when it first saves
    or loads. No student code has run here, and nothing here starts a thread.
    """
    os.environ.update(ONE_THREAD)
    os.environ.setdefault("MPLBACKEND", "Agg")  # notebooks import matplotlib; there is no screen here
    for module in (*PRELOADED, *probe_modules):
        importlib.import_module(module)
    import torch

    torch.set_num_threads(1)  # in case torch was imported before ONE_THREAD was set
    parameter = torch.nn.Parameter(torch.zeros(2))
    parameter.pow(2).sum().backward()
    for kind in (torch.optim.SGD, torch.optim.Adam):
        kind([parameter], lr=0.1).step()
    layer = torch.nn.Linear(1, 1)
    for saved, weights_only in ((layer.state_dict(), True), (layer, False)):
        file = io.BytesIO()
        torch.save(saved, file)
        file.seek(0)
        torch.load(file, weights_only=weights_only)
    # What is loaded now lives as long as the process: a garbage collection need not walk it again. A full
    # collection of it takes 0.3 s (hypothesis runs one as each grading starts), and in a fork it would write
    # to every page the fork shares with this process.
    gc.freeze()


def limit_resources(megabytes: int | None, own_user: bool, address_space: bool) -> None:
    """Cap the worker's data segment (heap and anonymous memory), file sizes, as its own user its processes, and with
    ``address_space`` every mapping (where no cgroup counts all its memory: see ``memory.py``)."""
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
    if megabytes and address_space:
        cap_address_space(megabytes)


def failure(error: BaseException, cell_filenames: set[str]) -> dict[str, object]:
    """A failure report for the grader: what went wrong, in the student's terms."""
    stub = unimplemented_stub(error, cell_filenames)
    message = describe(error, cell_filenames)
    if isinstance(error, AssertionError) and not student_frames(error.__traceback__, cell_filenames):
        # No check runs in a worker (probes decide nothing): an assertion here is student code's, whatever it says.
        message = raised(error)
    elif message is None:
        message = (
            f"While checking your code the grader met {type(error).__name__}: {error}. "
            "This usually means a function returned something other than what its docstring says."
        )
    return {
        "message": bounded(message),
        "stub": None if stub is None else [stub.name, stub.filename],
        # No input of the function explains a missing notebook or name, nor a name the code does not define.
        "about_submission": isinstance(error, (SubmissionError, NameError)),
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


def call_back(port: int, token: str) -> None:
    """A worker started as a fresh Python (where there is no fork): connect to the grader, say ``token``, serve."""
    channel = Channel(socket.create_connection(("127.0.0.1", port)))
    channel.send(token)
    serve(channel)


def serve(channel: Channel) -> None:
    """Answer requests on ``channel`` until it closes (in a confined process whose output goes nowhere)."""
    from autograder.boundary.codec import decode, encode
    from autograder.boundary.notebook import Cell, Submission, SubmissionError, SubmittedNotebooks

    ValueBudget.max_values = None  # the grader's messages are trusted
    channel.takes_fds = channel.passes_fds
    settings = channel.receive()
    probes = load_probes(settings["probe_modules"])
    workdir = Path(settings["workdir"])
    os.chdir(workdir)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    cells = {name: [Cell(filename, source, None if only is None else tuple(only)) for filename, source, only in cells]
             for name, cells in settings["notebooks"].items()}
    submission = Submission(SubmittedNotebooks(cells, settings["problems"]), label=settings["label"])
    limit_resources(settings["memory_mb"], settings["own_user"], settings["cap_address_space"])
    # Load the notebook now, saying so, so that the grader can tell when a notebook hangs or
    # crashes at load and start a new worker without it.
    for name in sorted(cells):
        channel.send(("loading", name))
        try:
            submission.notebook(name)
        except SubmissionError:
            pass  # unreadable: each check that needs it says so
    channel.send(("ready", os.getpid()))
    for kind, name, payload, shared in channel:
        # The grader's shared buffers: as memory it gave with the request, or as bytes where it could not.
        buffers = {key: mmap.mmap(fd, 0) for key, fd in zip(shared, channel.fds)} if channel.fds else \
            {key: bytearray(content) for key, content in shared.items()}
        try:
            if kind == "call":
                args, kwargs = decode(payload)
                value = getattr(submission, name)(*args, **kwargs)
            else:
                value = probes[name](submission, **decode(payload), **buffers)
            reply = ("ok", encode(value), {} if channel.fds else {k: bytes(b) for k, b in buffers.items()})
        except BaseException as error:  # student code may raise anything, SystemExit included
            reply = ("error", failure(error, submission.cell_filenames), {})
        for fd in channel.fds:
            os.close(fd)
        channel.send(reply)
    # The grader closed the channel: grading is over. Skip Python's shutdown: nothing here needs saving.
    os._exit(0)
