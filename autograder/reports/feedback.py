"""A student's feedback grouped by part, then by graded function, with one line per repeated cause.

Built from a results.json (see ``report.results_json``), so the terminal run, the grade cells
and the HTML pages all say the same thing in the same order. A function whose stub is untouched,
or whose notebook cannot be read, is one line however many checks it costs; passed checks are a
count; of a function's failures the first is shown in full and the rest by name and first line;
and every message is cut to ``MAX_MESSAGE_LINES`` lines, so that no submission makes a long page.
"""

from dataclasses import dataclass, field

from autograder.contract import GRADED_NAMES, PARTS
from autograder.reports.report import STUB, UNCHECKED, format_points, state

MAX_MESSAGE_LINES = 12
MAX_MESSAGE_CHARS = 1500
# A check that belongs to no graded name (none today) is grouped under this heading.
OTHER_CHECKS = "other checks"


@dataclass
class Failure:
    """One cause of lost points: a message, and the checks that failed with exactly that message."""

    message: str  # already cut to size
    checks: list[dict]  # results.json's test entries

    @property
    def lost(self) -> float:
        return sum(t["max_score"] - t["score"] for t in self.checks)


@dataclass
class FunctionFeedback:
    """The checks of one graded name (``sgd_step``, ``Model``) within one part."""

    name: str
    score: float = 0.0
    max_score: float = 0.0
    passed: list[str] = field(default_factory=list)  # names of the checks that passed
    unchecked: list[str] = field(default_factory=list)  # names of the checks that run only when the instructor grades
    unchecked_points: float = 0.0
    failures: list[Failure] = field(default_factory=list)  # in the order the checks ran

    @property
    def one_line(self) -> bool:
        """Whether one message explains all of it: nothing passed, and every failed check says the same."""
        return not self.passed and len(self.failures) == 1

    @property
    def cause(self) -> str:
        """The one message of a ``one_line`` function, without its name where it starts with it:
        "not implemented yet (01_linear_regression.ipynb, ...)" for ``sgd_step``."""
        return self.failures[0].message.removeprefix(f"`{self.name}` is ")


@dataclass
class PartFeedback:
    """One part: its points and its graded names, in the notebook's order."""

    title: str
    score: float = 0.0
    max_score: float = 0.0
    unchecked_points: float = 0.0
    functions: list[FunctionFeedback] = field(default_factory=list)

    @property
    def common_failure(self) -> str | None:
        """The one message behind every lost point of the part, when there is one (an unreadable notebook)."""
        messages = {f.failures[0].message for f in self.functions if f.failures}
        if len(messages) == 1 and len(self.functions) > 1 and all(f.one_line for f in self.functions):
            return messages.pop()
        return None


def cut(message: str) -> str:
    """``message`` cut to ``MAX_MESSAGE_LINES`` lines and ``MAX_MESSAGE_CHARS`` characters, saying so."""
    lines = message.splitlines() or [""]
    kept = "\n".join(lines[:MAX_MESSAGE_LINES])
    if len(kept) > MAX_MESSAGE_CHARS:
        kept = kept[:MAX_MESSAGE_CHARS].rstrip() + "…"
    if len(lines) > MAX_MESSAGE_LINES:
        kept += f"\n… ({len(lines) - MAX_MESSAGE_LINES} more lines)"
    return kept


def checked_name(test: dict) -> str:
    """The graded name a results.json test entry checks."""
    return test.get("extra_data", {}).get("checks") or OTHER_CHECKS


def own_stub(test: dict, name: str) -> bool:
    """Whether ``test`` failed because the stub of ``name`` itself (``Model.__init__`` for ``Model``) is untouched."""
    stub = test.get("extra_data", {}).get("stub", "")
    return state(test) == STUB and stub.split(".")[0] == name


def function_feedback(name: str, tests: list[dict]) -> FunctionFeedback:
    """The feedback on one graded name from its checks."""
    feedback = FunctionFeedback(name, sum(t["score"] for t in tests), sum(t["max_score"] for t in tests))
    failed = []
    for test in tests:
        if state(test) == UNCHECKED:
            feedback.unchecked.append(test["name"])
            feedback.unchecked_points += test["max_score"]
        elif test["score"] >= test["max_score"]:
            feedback.passed.append(test["name"])
        else:
            failed.append(test)
    # An untouched stub of the function itself says all there is to say, whatever else failed.
    stubbed = [t for t in failed if own_stub(t, name)]
    if stubbed:
        feedback.failures = [Failure(cut(stubbed[0]["output"]), failed)]
        return feedback
    by_message: dict[str, list[dict]] = {}
    for test in failed:
        by_message.setdefault(test["output"], []).append(test)
    feedback.failures = [Failure(cut(message), checks) for message, checks in by_message.items()]
    return feedback


def group(results: dict, parts: list[str]) -> list[PartFeedback]:
    """The feedback on ``parts`` (titles, in order), each part's graded names in its notebook's order."""
    grouped = []
    for title in parts:
        tests = [t for t in results["tests"] if title in t.get("tags", [])]
        order = list(GRADED_NAMES[PARTS[title].notebook]) if title in PARTS else []
        names = sorted({checked_name(t) for t in tests},
                       key=lambda n: (order.index(n) if n in order else len(order), n))
        part = PartFeedback(title, sum(t["score"] for t in tests), sum(t["max_score"] for t in tests),
                            sum(t["max_score"] for t in tests if state(t) == UNCHECKED))
        part.functions = [function_feedback(n, [t for t in tests if checked_name(t) == n]) for n in names]
        grouped.append(part)
    return grouped


def points(score: float, max_score: float) -> str:
    """``"2.5 / 4"``."""
    return f"{format_points(score)} / {format_points(max_score)}"


def indent(text: str, prefix: str) -> str:
    """Every line of ``text`` after ``prefix``."""
    return "\n".join(prefix + line for line in text.splitlines())


def check_label(test: dict) -> str:
    """A failed check as a line: its name and the points it cost."""
    lost = test["max_score"] - test["score"]
    return f"{test['name'].rstrip('.')} (−{format_points(lost)} point{'' if lost == 1 else 's'})"


def part_heading(part: PartFeedback) -> str:
    """``Part 3: activation functions: 25 / 30.5``; where some checks run only when the instructor grades, the
    points that could be checked here, and how many more are left for then."""
    if not part.unchecked_points:
        return f"{part.title}: {points(part.score, part.max_score)}"
    return (f"{part.title}: {points(part.score, part.max_score - part.unchecked_points)} checked here "
            f"({format_points(part.unchecked_points)} more when your instructor grades)")


def function_text(function: FunctionFeedback) -> list[str]:
    """The lines of one graded name: a summary line, then its first failure in full and the others briefly."""
    mark = "✓" if not function.failures else "✗"
    head = f"  {mark} {function.name}: {points(function.score, function.max_score - function.unchecked_points)}"
    counts = [f"{len(function.passed)} passed"] if function.passed else []
    left = len(function.unchecked)
    counts += [f"{left} more check{'' if left == 1 else 's'} when your instructor grades"] if left else []
    if not function.failures:
        return [f"{head} ({', '.join(counts)})"]
    if function.one_line:
        first, *rest = function.cause.splitlines()
        return [f"{head} — {first}", *(indent(line, "      ") for line in rest)]
    failed = sum(len(f.checks) for f in function.failures)
    lines = [f"{head} ({', '.join([f'{failed} failed', *counts])})"]
    first, *others = function.failures
    for test in first.checks:
        lines.append(f"      ✗ {check_label(test)}")
    lines.append(indent(first.message, "          "))
    for failure in others:
        for test in failure.checks:
            lines.append(f"      ✗ {check_label(test)}: {failure.message.splitlines()[0] if failure.message else ''}")
    return lines


def part_text(part: PartFeedback) -> str:
    """One part as plain text, for the terminal and the grade cells."""
    lines = [part_heading(part)]
    common = part.common_failure
    if common is not None:
        names = ", ".join(f.name for f in part.functions)
        lines.append("  ✗ " + common.replace("\n", "\n    "))
        lines.append(f"    (this costs every check of {names})")
        return "\n".join(lines)
    for function in part.functions:
        lines.extend(function_text(function))
    return "\n".join(lines)


def feedback_text(results: dict, parts: list[str]) -> str:
    """Every part of ``parts`` as plain text, one blank line apart."""
    return "\n\n".join(part_text(part) for part in group(results, parts))
