"""Turn a failed graded test into a message a student can act on.

A failure is one of three kinds: the submission lacks something (``SubmissionError``),
the student's code raised (described with the student's own frames only), or a check
found a wrong value (its assertion message, with hypothesis's smallest failing input).
Anything else is a fault of the grader and keeps pytest's full report.
"""

import re
import traceback
from types import TracebackType

from autograder.boundary.isolation import StudentCodeFailed
from autograder.boundary.notebook import SubmissionError

# How the message for an untouched stub reads after the name: "`softmax` is not implemented yet: ...".
STUB_MESSAGE = "is not implemented yet"
# The most of one message a student is shown: enough for any honest failure, small enough
# that results.json and the feedback pages stay small whatever student code prints or raises.
MESSAGE_LIMIT = 4000
# Terminal escape sequences and other control characters, which would redraw a terminal or a log.
CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` without control characters (newlines and tabs kept), cut to ``limit`` characters."""
    text = CONTROL.sub("", text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... ({len(text) - limit} more characters cut)"


def notes(error: BaseException) -> str:
    """Hypothesis attaches the falsifying example as exception notes; keep them."""
    return "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))


def student_frames(tb: TracebackType | None, cell_filenames: set[str]) -> list[traceback.FrameSummary]:
    """The frames of ``tb`` that run code from the student's notebook cells."""
    summaries = []
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename in cell_filenames:
            summary = traceback.FrameSummary(
                frame.f_code.co_filename, lineno, frame.f_code.co_qualname, lookup_line=True
            )
            summaries.append(summary)
    return summaries


def unimplemented_stub(error: BaseException, cell_filenames: set[str]) -> traceback.FrameSummary | None:
    """The student's frame that raised ``error``, when it is an untouched ``raise NotImplementedError()``."""
    frames = student_frames(error.__traceback__, cell_filenames)
    if isinstance(error, NotImplementedError) and frames and frames[-1].line.startswith("raise NotImplementedError"):
        return frames[-1]
    return None


def describe(error: BaseException, cell_filenames: set[str]) -> str | None:
    """A student-facing description of ``error``, or None when it is the grader's own fault."""
    if isinstance(error, BaseExceptionGroup):
        parts = [describe(e, cell_filenames) for e in error.exceptions]
        if any(part is None for part in parts):
            return None
        return f"{len(parts)} different failures:\n\n" + "\n\n".join(parts)
    if isinstance(error, SubmissionError):
        return str(error)
    if isinstance(error, StudentCodeFailed):
        return f"{error}{notes(error) if error.stub is None else ''}"
    stub = unimplemented_stub(error, cell_filenames)
    if stub is not None:
        return (
            f"`{stub.name}` {STUB_MESSAGE}: replace `raise NotImplementedError()` "
            f"in {stub.filename} with your code."
        )
    frames = student_frames(error.__traceback__, cell_filenames)
    if frames:
        where = "".join(traceback.format_list(frames))
        message = f"{type(error).__name__}: {error}"
        return f"Your code raised {message}\nWhere, in your notebook:\n{where}{notes(error)}".rstrip()
    if isinstance(error, AssertionError):
        return f"{error}{notes(error)}"
    import pytest  # here, not above: the worker uses this module and need not import pytest

    if isinstance(error, pytest.fail.Exception):
        return f"{error.msg}{notes(error)}"
    return None
