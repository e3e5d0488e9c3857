"""Turn a failed graded test into a message a student can act on.

A failure is one of three kinds: the submission lacks something (``SubmissionError``),
the student's code raised (described with the student's own frames only), or a check
found a wrong value (its assertion message, with hypothesis's smallest failing input).
Anything else is a fault of the grader and keeps pytest's full report.
"""

import builtins
import difflib
import re
import traceback
from types import TracebackType

from autograder.boundary.notebook import SubmissionError

# How the message for an untouched stub reads after the name: "`softmax` is not implemented yet (...)".
STUB_MESSAGE = "is not implemented yet"
# The most of one message a student is shown: enough for any honest failure, small enough
# that results.json and the feedback pages stay small whatever student code prints or raises.
MESSAGE_LIMIT = 4000
# Terminal escape sequences and other control characters, which would redraw a terminal or a log.
CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StudentCodeFailed(Exception):
    """Student code raised, hung, crashed or exceeded a limit; the message is for the student.

    ``stub`` is ``(qualified name, cell)`` when the cause is an untouched ``raise NotImplementedError()``;
    ``about_submission`` is true when no input of the student's function explains it: the submission
    as a whole (a notebook or name missing or unreadable), or how its code is written; ``on_this_input``
    is false when the failure did not happen on the input of the check now running (it is the replay of
    an earlier one), so that no example is shown as if it had failed.
    """

    def __init__(self, message: str, stub: tuple[str, str] | None = None, about_submission: bool = False,
                 on_this_input: bool = True) -> None:
        super().__init__(message)
        self.stub = stub
        self.about_submission = about_submission
        self.on_this_input = on_this_input

    def again(self) -> "StudentCodeFailed":
        """The same failure as a new exception, without the notes (hypothesis's examples) the first one gathered: a
        replay, which happened on no input of the check that raises it."""
        return StudentCodeFailed(str(self), self.stub, self.about_submission, on_this_input=False)


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` without control characters (newlines and tabs kept), cut to ``limit`` characters.

    Only the beginning is cleaned, so a message of 50 MB costs no more than one of a few kB.
    """
    cleaned = CONTROL.sub("", text[: 2 * limit])
    if len(cleaned) <= limit and len(text) <= 2 * limit:
        return cleaned
    return f"{cleaned[:limit]}\n... ({len(text) - limit} more characters cut)"


# Hypothesis's note naming the failing example: "Falsifying example: test_x(" (older) or
# "Failing test case: test_x(" (newer), one "    name=value," per argument, then ")".
EXAMPLE_HEADER = re.compile(r"^(?:Falsifying example|Failing test case): \w+\($")
ARGUMENT = re.compile(r"^    (\w+)=(.*)$")
# A value drawn inside the test with ``data.draw(..., label="labels")``: "Draw 1 (labels): [0, 2]".
LABELLED_DRAW = re.compile(r"^Draw \d+ \((\w+)\): (.*)$")


def notes(error: BaseException, hidden: frozenset[str] = frozenset()) -> str:
    """Hypothesis attaches the failing example as exception notes: keep them, as the example's inputs.

    The arguments named in ``hidden`` (the test's fixtures: ``student``, ``from_scratch``, ...)
    and hypothesis's ``data`` object are the grader's, not inputs of the student's function.
    """
    return "".join(f"\n{failing_example(note, hidden)}" for note in getattr(error, "__notes__", ()))


def failing_example(note: str, hidden: frozenset[str]) -> str:
    """``note`` with a failing example rewritten as the inputs it gave, one per line; other notes as they are."""
    lines = note.splitlines()
    if not lines or not EXAMPLE_HEADER.match(lines[0]):
        draw = LABELLED_DRAW.match(note)
        return f"  {draw.group(1)} = {draw.group(2)}" if draw else note
    arguments: list[list[str]] = []  # [name, first line of the value, further lines...]
    for line in lines[1:]:
        argument = ARGUMENT.match(line)
        if argument:
            arguments.append([argument.group(1), argument.group(2)])
        elif arguments and line != ")":
            arguments[-1].append(line)
    shown = []
    for name, *value in arguments:
        if name in hidden or name == "data":
            continue
        value[-1] = value[-1].removesuffix(",")
        # Hypothesis indents a value's further lines by 4; they keep their place under the value's start.
        prefix = f"  {name} = "
        shown.append(prefix + "\n".join([value[0], *(" " * len(prefix) + line[4:] for line in value[1:])]))
    return "The smallest example found:" + "".join(f"\n{line}" for line in shown)


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


def stub_message(name: str, cell: str, line: int) -> str:
    """What a student reads about the untouched stub ``name`` at ``line`` of ``cell`` (see ``notebook.cell_names``)."""
    return f"`{name}` {STUB_MESSAGE} ({cell}, line {line}): replace `raise NotImplementedError()` with your code."


def did_you_mean(error: NameError) -> str:
    """`` Did you mean `sigmoid`?``: the name closest to the undefined one among those the failing frame could see."""
    name = getattr(error, "name", None)
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    if not name or not frames:
        return ""
    frame = frames[-1]
    seen = {*frame.f_locals, *frame.f_globals, *dir(builtins)} - {name}
    close = difflib.get_close_matches(name, sorted(n for n in seen if not n.startswith("_")), n=1, cutoff=0.7)
    return f" Did you mean `{close[0]}`?" if close else ""


def raised(error: BaseException) -> str:
    """What student code raised, its words quoted as theirs: ``Your code raised ValueError: "..."``."""
    said = str(error)
    return f'Your code raised {type(error).__name__}: "{said}"' if said else f"Your code raised {type(error).__name__}"


def where(frames: list[traceback.FrameSummary]) -> str:
    """The student's frames, innermost last, each as its cell, line and function, then the line itself."""
    return "".join(f"  {frame.filename}, line {frame.lineno}, in {frame.name}:\n    {(frame.line or '').strip()}\n"
                   for frame in frames)


def describe(error: BaseException, cell_filenames: set[str], hidden: frozenset[str] = frozenset()) -> str | None:
    """A student-facing description of ``error``, or None when it is the grader's own fault.

    ``hidden`` names the failing test's fixtures, left out of hypothesis's failing example.
    """
    if isinstance(error, BaseExceptionGroup):
        parts = [describe(e, cell_filenames, hidden) for e in error.exceptions]
        if any(part is None for part in parts):
            return None
        # Hypothesis tells failures apart by where they were raised: the same failure (a function
        # given up on after its time-out) raised from two places is still one failure to a student.
        distinct = list(dict.fromkeys(part.splitlines()[0] for part in parts))
        if len(distinct) == 1:
            return parts[0]
        return f"{len(parts)} different failures:\n\n" + "\n\n".join(parts)
    if isinstance(error, SubmissionError):
        return str(error)
    if isinstance(error, StudentCodeFailed):
        # An untouched stub or a missing notebook fails alike on every input: no example explains it; and the replay of
        # an earlier failure did not happen on the example hypothesis would show.
        explained_by_inputs = error.stub is None and not error.about_submission and error.on_this_input
        return f"{error}{notes(error, hidden) if explained_by_inputs else ''}"
    stub = unimplemented_stub(error, cell_filenames)
    if stub is not None:
        return stub_message(stub.name, stub.filename, stub.lineno)
    frames = student_frames(error.__traceback__, cell_filenames)
    if frames:
        if isinstance(error, NameError):  # Python's own suggestion, which a traceback's text would give; no example
            return f"{raised(error)}{did_you_mean(error)}\nWhere, in your notebook:\n{where(frames)}".rstrip()
        return f"{raised(error)}\nWhere, in your notebook:\n{where(frames)}{notes(error, hidden)}".rstrip()
    if isinstance(error, AssertionError):
        return f"{error}{notes(error, hidden)}"
    import pytest  # here, not above: the worker uses this module and need not import pytest

    if isinstance(error, pytest.fail.Exception):
        return f"{error.msg}{notes(error, hidden)}"
    return None
