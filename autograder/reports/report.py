"""Scores: one outcome per graded test, a per-part table, and Gradescope's ``results.json``."""

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.contract import PARTS


# Files written for people to read: owner read-write, everyone else read; and files for the owner alone.
READABLE, PRIVATE = 0o644, 0o600
# How a skipped check's output starts: it runs elsewhere (e.g. the reference comparisons at grading time).
NOT_CHECKED = "Not checked: "
# What became of a check, as the grader decided it (results.json's extra_data["state"]): every report reads this,
# never a message's text, which student code can write.
PASSED, FAILED, UNCHECKED, STUB = "passed", "failed", "not checked", "stub"
NOT_RUN = "not run"  # not yet: a grading that stops early leaves it, and reports count it as failed


@dataclass
class Outcome:
    """The result of one graded test."""

    name: str  # the behaviour checked, from the test's docstring
    test: str  # pytest's name for the test, with its parameters
    part: str
    max_score: float
    score: float
    status: str  # PASSED, FAILED, UNCHECKED (it runs elsewhere), STUB (it met an untouched stub) or NOT_RUN
    output: str = ""
    checks: str = ""  # the graded name the test checks, e.g. "sgd_step": feedback is grouped by it
    stub: str = ""  # the untouched stub that failed it, e.g. "Model.__init__", where the grader's source says so


@dataclass
class Graded:
    """One student's grade: results.json's contents, or why there are none."""

    student_id: str
    results: dict | None
    problem: str = ""  # why ``results`` is None


def format_points(points: float) -> str:
    """``3.0`` -> ``"3"``, ``1.5`` -> ``"1.5"``."""
    return f"{points:g}"


def score_table(outcomes: list[Outcome]) -> str:
    """A plain-text table of points per part, in the order parts were first met, and the total."""
    parts: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        parts.setdefault(outcome.part, []).append(outcome)
    width = max([len(part) for part in parts] + [len("Total")])
    lines = []
    for part, part_outcomes in parts.items():
        score, checkable, skipped = points_checked(part_outcomes)
        note = f"   (+{format_points(skipped)} when your instructor grades)" if skipped else ""
        lines.append(f"{part:<{width}}  {format_points(score):>5} / {format_points(checkable)}{note}")
    total, checkable, skipped = points_checked(outcomes)
    if skipped:  # a student's own run: what it could check, and what is left for the instructor's grading
        lines.append(f"{'Total':<{width}}  {format_points(total):>5} / {format_points(checkable)} checked here; "
                     f"{format_points(skipped)} more points are checked when your instructor grades")
    else:
        lines.append(f"{'Total':<{width}}  {format_points(total):>5} / {format_points(checkable)}")
    return "\n".join(lines)


def points_checked(outcomes: list[Outcome]) -> tuple[float, float, float]:
    """The points earned, the points this run could check, and the points of the checks it skipped."""
    skipped = sum(o.max_score for o in outcomes if o.status == UNCHECKED)
    return sum(o.score for o in outcomes), sum(o.max_score for o in outcomes) - skipped, skipped


def part_points(results: dict, key: str = "score") -> dict[str, float]:
    """Each part's sum of ``key`` (``score`` or ``max_score``) over a results.json's tests, by their ``tags``."""
    points = dict.fromkeys(PARTS, 0.0)
    for test in results["tests"]:
        for tag in test.get("tags", []):
            if tag in points:
                points[tag] += test[key]
    return points


def results_json(outcomes: list[Outcome], extra_data: dict[str, object] | None = None, output: str = "") -> dict:
    """The outcomes in Gradescope's autograder ``results.json`` schema; ``extra_data`` is kept as is.

    ``output`` is the text Gradescope shows above the tests (how student code was confined);
    every output is plain text, never HTML or Markdown a student's message could inject.
    """
    return {
        "score": sum(o.score for o in outcomes),
        "max_score": sum(o.max_score for o in outcomes),
        "output": output,
        "output_format": "text",
        "test_output_format": "text",
        "tests": [
            {
                "name": o.name,
                "test": o.test,
                "score": o.score,
                "max_score": o.max_score,
                "status": "passed" if o.status == PASSED else "failed",
                "tags": [o.part],
                "output": o.output,
                "extra_data": {"checks": o.checks, "state": o.status, **({"stub": o.stub} if o.stub else {})},
            }
            for o in outcomes
        ],
        "extra_data": finite(extra_data or {}),
    }


def state(test: dict) -> str:
    """What became of a results.json test entry, as the grader set it (see ``PASSED`` ...); by its points where a file
    says nothing."""
    said = test.get("extra_data", {}).get("state")
    if said in (PASSED, FAILED, UNCHECKED, STUB):
        return said
    return PASSED if test["score"] >= test["max_score"] else FAILED


def finite(value: object) -> object:
    """``value`` with every NaN or infinite float (a student's diverged training curve) made None.

    JSON has no NaN or Infinity: a results.json holding them is rejected by strict readers
    (Gradescope's among them), and the student would get no grade at all.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def write_results(path: Path, outcomes: list[Outcome], extra_data: dict[str, object] | None = None,
                  output: str = "") -> None:
    """Write ``results.json`` atomically: a reader sees the old file or the whole new one.

    Only its owner may read it: where student code runs as another user (Gradescope), no
    process of theirs is to read a grade, or the reference's answers its messages quote.
    """
    write_atomically(Path(path), json.dumps(results_json(outcomes, extra_data, output), indent=2, allow_nan=False),
                     PRIVATE)


def write_atomically(path: Path, text: str, mode: int = READABLE) -> None:
    """Write ``text`` to ``path`` so that a reader, or a crash, sees the old file or the whole new one.

    The file gets ``mode`` (default 0644), not the temporary file's 0600: pages and CSVs are for
    others to read, and ``nbgrader release_feedback`` copies a page's mode to the student.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(text)
    os.chmod(handle.name, mode)
    os.replace(handle.name, path)
