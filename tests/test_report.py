"""The score table and results.json add up the outcomes of the graded tests."""

import json

import pytest

from autograder.reports.report import Outcome, score_table, write_results

OUTCOMES = [
    Outcome(name="a", test="test_a", part="Part 1", max_score=2, score=2, status="passed"),
    Outcome(name="b", test="test_b", part="Part 1", max_score=1, score=0, status="failed", output="wrong"),
    Outcome(name="c", test="test_c", part="Part 2", max_score=0.5, score=0, status="not checked", output="Not checked: x"),
]


def test_score_table_sums_each_part_and_the_total():
    """The table has one line per part, in order, and a total line."""
    checked = [o for o in OUTCOMES if o.status != "not checked"]
    assert score_table(checked).splitlines() == [
        "Part 1      2 / 3",
        "Total       2 / 3",
    ]


def test_score_table_says_what_was_checked_here_and_what_is_left():
    """Where some checks run only when the instructor grades, the total counts what was checked and names the rest."""
    assert score_table(OUTCOMES).splitlines() == [
        "Part 1      2 / 3",
        "Part 2      0 / 0   (+0.5 when your instructor grades)",
        "Total       2 / 3 checked here; 0.5 more points are checked when your instructor grades",
    ]


def test_write_results_writes_gradescope_json(tmp_path):
    """results.json holds the total, the maximum and one entry per test, and no temporary file is left."""
    path = tmp_path / "out" / "results.json"
    write_results(path, OUTCOMES)
    results = json.loads(path.read_text())
    assert (results["score"], results["max_score"]) == (2, 3.5)
    assert [t["status"] for t in results["tests"]] == ["passed", "failed", "failed"]
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_results_hold_no_nan_or_infinity_whatever_the_curves(tmp_path):
    """A diverged training curve (NaN, inf) is written as null, so results.json stays valid JSON."""
    outcome = Outcome("a check", "test_a", "Part 1: linear regression", 1.0, 1.0, "passed")
    curves = {"training_curves": {"loss": [float("nan"), float("inf"), 0.5], "test_accuracy": float("-inf")}}
    write_results(tmp_path / "results.json", [outcome], curves)
    text = (tmp_path / "results.json").read_text()
    reject = lambda constant: pytest.fail(f"results.json holds {constant}")  # noqa: E731
    loaded = json.loads(text, parse_constant=reject)
    assert loaded["extra_data"]["training_curves"] == {"loss": [None, None, 0.5], "test_accuracy": None}


@pytest.mark.parametrize("loss", [[1.7e308, -1.7e308] * 50, [None] * 100])
def test_curves_that_cannot_be_drawn_leave_a_page_that_says_so(loss):
    """Curves whose values overflow the plot, or are missing (NaN written as null), give a page, not a crash."""
    from autograder.reports.student_report import curves_block

    block = curves_block({"loss": loss, "accuracy": [0.5] * 100, "test_accuracy": None})
    assert "test accuracy <b>not a number</b>" in block
    assert "could not be drawn" in block or "<img" in block
