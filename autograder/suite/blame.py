"""A failed check of a graded name that uses another one whose own checks fail says first to fix that one.

A training loop calls ``loss_fn``, ``load_parameters`` builds ``Model``, ``tanh`` calls ``sigmoid``: where the used
one is wrong, the check that uses it fails for that reason, and the student should hear so before anything else.
"""

from collections.abc import Callable

from autograder.boundary.messages import bounded
from autograder.boundary.notebook import Cell
from autograder.boundary.program import graded_names_used
from autograder.contract import NOTEBOOK_OF
from autograder.reports.report import FAILED, STUB, Outcome


def blame(outcomes: dict[str, Outcome], explained: set[str], builds: dict[str, tuple[str, ...]],
          cells: Callable[[str], list[Cell]]) -> None:
    """Prefix each failed outcome (by node id) whose failure does not already name its cause (``explained``) with the
    graded names it uses whose own checks fail. What a name uses is read from its program in the source (``cells`` of
    its notebook, by notebook name), and what a check builds from its ``uses`` markers (``builds``, by node id);
    whether the used one is wrong, from its own checks' outcomes, never from a message."""
    failing = {o.checks for o in outcomes.values() if o.status in (FAILED, STUB)}
    for nodeid, outcome in outcomes.items():
        if outcome.status != FAILED or nodeid in explained or outcome.checks not in NOTEBOOK_OF:
            continue
        used = [*builds.get(nodeid, ()), *graded_names_used(cells(NOTEBOOK_OF[outcome.checks]), outcome.checks)]
        broken = [name for name in dict.fromkeys(used) if name in failing and name != outcome.checks]
        note = "".join(f"This check uses your {name}, whose own checks fail: fix {name} first.\n" for name in broken)
        outcome.output = bounded(note + outcome.output)
