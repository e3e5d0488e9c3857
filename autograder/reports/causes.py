"""Why a class lost points, as causes rather than checks: what the class report's failures, stubs and rates show.

A check's state (passed, failed, not checked, an untouched stub) is what the grader set in
results.json (``report.state``), never read from a message. Messages are only grouped: one
mistake that fails eight checks of a function is one cause; a function that fails because a
function it uses is wrong (the grader says "fix sigmoid first") or refused ("tanh uses sigmoid,
which uses ...") shares that function's cause; functions of one student whose causes say the same
are one cause, named for the notebook where that is every function of it (an unreadable or
missing notebook); an untouched stub is one row of its own table, whoever called it.
"""

import re
from dataclasses import dataclass, field

from autograder.contract import PARTS
from autograder.reports.report import STUB, UNCHECKED, Graded, state

# How a message says that a graded name fails through a name it uses (``scratch.relies``): "tanh uses sigmoid,
# which uses `torch.exp` ...". The cause is sigmoid's: "sigmoid uses `torch.exp` ...".
THROUGH = re.compile(r"^(\w+) uses (?:\w+, which uses )*(\w+), which (?=uses )")
# How the grader starts the message of a check whose graded name uses another one whose own checks fail
# (``conftest.blame_dependencies``): the cause is that one's.
BLAME = re.compile(r"This check uses your ([\w.]+), whose own checks fail: fix \1 first\.\n?")


@dataclass
class FailureGroup:
    """One cause of lost points shared by several students: the message of the first check each of them failed in
    the functions it covers, the same once numbers and hypothesis's examples are set aside."""

    function: str  # what it covers: a graded name (sgd_step), several (sigmoid, tanh), or a notebook
    message: str  # the first such message, without its example
    students: set[str] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)  # the names of every check it cost them
    variants: set[str] = field(default_factory=set)  # the messages as written, examples aside


def message_key(output: str) -> str:
    """What a failure's message says, whatever its numbers: hypothesis's example dropped, numbers as ``#``.

    ``"... cell 8 ..."`` and ``"... cell 14 ..."``, ``[0.0, nan]`` and ``[0.0, 0.0, nan]``, or two
    shrunk examples, give the same key.
    """
    text = re.sub(r"-?(\d+(\.\d*)?(e[-+]?\d+)?|\bnan\b|\binf\b)", "#", strip_example(output))
    text = re.sub(r"#(\s*,\s*#)+", "#", text)  # a list of numbers, however long
    return re.sub(r"\s+", " ", text).strip()


def strip_example(output: str) -> str:
    """``output`` without hypothesis's example: its "Failing test case: ...(...)" block and "Draw n: ..." lines."""
    text = re.sub(r"\n?(Failing test case|Falsifying example):.*?\n\)(\n|$)", "\n", output, flags=re.S)
    return re.sub(r"^Draw \d+: .*$\n?", "", text, flags=re.M).strip()


def blamed(output: str) -> tuple[list[str], str]:
    """The graded names a message says to fix first (``BLAME``), and the message without those notes."""
    names = []
    while (found := BLAME.match(output)) is not None:
        names.append(found.group(1))
        output = output[found.end():]
    return names, output


def root_message(output: str) -> str:
    """The message of the cause: "tanh uses sigmoid, which uses `x` ..." is sigmoid's "sigmoid uses `x` ..."."""
    return THROUGH.sub(r"\2 ", strip_example(blamed(output)[1]), count=1)


def stub_name(test: dict) -> str | None:
    """The untouched stub that failed a check (``softmax``, ``Model.__init__``), where the grader found one; else None."""
    return test.get("extra_data", {}).get("stub") if state(test) == STUB else None


def graded_ones(grades: list[Graded]) -> list[Graded]:
    """The grades that have results."""
    return [g for g in grades if g.results is not None]


def failed_tests(graded: Graded) -> list[dict]:
    """The checks ``graded`` failed (not those that were not checked)."""
    return [test for test in graded.results["tests"] if test["score"] < test["max_score"] and state(test) != UNCHECKED]


def stubs_left(grades: list[Graded]) -> dict[str, set[str]]:
    """Graded name -> the students who left its stub untouched."""
    left: dict[str, set[str]] = {}
    for graded in graded_ones(grades):
        for test in failed_tests(graded):
            name = stub_name(test)
            if name is not None:
                left.setdefault(name, set()).add(graded.student_id)
    return left


def notebook_functions(results: dict) -> dict[str, list[str]]:
    """Notebook -> the graded names its checks cover, in the order they ran."""
    functions: dict[str, list[str]] = {}
    for test in results["tests"]:
        part = next((tag for tag in test.get("tags", []) if tag in PARTS), None)
        name = test.get("extra_data", {}).get("checks", "")
        if part is not None and name not in functions.setdefault(PARTS[part].notebook, []):
            functions[PARTS[part].notebook].append(name)
    return functions


def covered(functions: list[str], by_notebook: dict[str, list[str]]) -> str:
    """What a cause covers, for people: the notebook, where it is every function of one; else the functions."""
    for notebook, names in by_notebook.items():
        if len(names) > 1 and sorted(functions) == sorted(names):
            return notebook
    return ", ".join(functions)


def student_causes(graded: Graded) -> list[tuple[str, str, list[dict]]]:
    """One student's causes: what each covers, its first message, and the failed checks it cost, by the first
    failure of each function (as their feedback shows it first). A function the grader says fails through another
    that fails (``BLAME``) shares that one's cause, and functions whose causes say the same are merged."""
    by_function: dict[str, list[dict]] = {}
    for test in failed_tests(graded):
        if stub_name(test) is None:
            by_function.setdefault(test.get("extra_data", {}).get("checks", ""), []).append(test)

    def cause_of(function: str, seen: frozenset[str]) -> str:
        """The function whose failure explains ``function``'s: itself, or the first one it is told to fix first."""
        for name in blamed(by_function[function][0]["output"])[0]:
            if name in by_function and name not in seen:
                return cause_of(name, seen | {name})
        return function

    merged: dict[str, tuple[list[str], str, list[dict]]] = {}
    for function, tests in by_function.items():
        message = root_message(by_function[cause_of(function, frozenset({function}))][0]["output"])
        functions, _, checks = merged.setdefault(message_key(message), ([], message, []))
        functions.append(function)
        checks.extend(tests)
    by_notebook = notebook_functions(graded.results)
    return [(covered(functions, by_notebook), message, checks) for functions, message, checks in merged.values()]


def failure_groups(grades: list[Graded]) -> list[FailureGroup]:
    """The causes of lost points, most students first, grouped by what they cover and ``message_key``; an untouched
    stub is none (see ``stubs_left``)."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for graded in graded_ones(grades):
        for function, message, tests in student_causes(graded):
            group = groups.setdefault((function, message_key(message)), FailureGroup(function, message))
            group.students.add(graded.student_id)
            group.checks.update(test["name"] for test in tests)
            group.variants.add(message)
    return sorted(groups.values(), key=lambda g: (-len(g.students), -len(g.checks), g.function, g.message))


@dataclass
class CheckRate:
    """How many graded submissions passed one check."""

    name: str
    part: str
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        """The share of graded submissions that passed, in [0, 1]."""
        return self.passed / self.graded if self.graded else 0.0


def pass_rates(grades: list[Graded]) -> list[CheckRate]:
    """Each check's pass rate over the graded submissions, in the order the checks ran."""
    rates: dict[str, CheckRate] = {}
    for graded in graded_ones(grades):
        for test in graded.results["tests"]:
            part = next((tag for tag in test.get("tags", []) if tag in PARTS), "")
            rate = rates.setdefault(test["test"], CheckRate(test["name"], part, 0, 0))
            rate.graded += 1
            rate.passed += test["score"] >= test["max_score"]
    return list(rates.values())
