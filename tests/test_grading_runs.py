"""Whole grading runs of the reference and of the untouched stubs, through ``pytest autograder/``."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder.contract import NOTEBOOK_OF, PARTS, REFERENCE_DIR
from tests.conftest import run_grader
from tests.test_contract import grade_cell
from tests.test_mutants import MUTANTS, mutant_submission

pytestmark = pytest.mark.slow


def printed_total(stdout: str) -> tuple[float, float]:
    """The ``Total  x / y`` line of the score table."""
    match = re.search(r"^Total\s+([\d.]+) / ([\d.]+)$", stdout, re.MULTILINE)
    assert match, f"no score table in the output:\n{stdout[-3000:]}"
    return float(match.group(1)), float(match.group(2))


def test_reference_gets_full_marks(reference_run):
    """Every graded test passes on the reference notebooks."""
    failed = [t for t in reference_run.results["tests"] if t["score"] != t["max_score"]]
    assert not failed, failed
    assert reference_run.results["score"] == reference_run.results["max_score"] > 0
    assert reference_run.returncode == 0, reference_run.stdout[-3000:]


def test_results_file_holds_the_printed_total(reference_run):
    """The score table's total and results.json's score and max_score agree."""
    assert printed_total(reference_run.stdout) == (
        reference_run.results["score"], reference_run.results["max_score"],
    )


def test_results_file_follows_the_gradescope_schema(reference_run):
    """results.json has score, max_score and tests with name, score, max_score and output."""
    results = reference_run.results
    assert {"score", "max_score", "tests"} <= set(results)
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output"} <= set(test)
    assert sum(t["max_score"] for t in results["tests"]) == results["max_score"]


@pytest.mark.parametrize("title", sorted(PARTS))
def test_each_grade_cell_is_worth_its_parts_points(reference_run, title):
    """The points of a part's nbgrader grade cell equal the points of the part's checks."""
    checks = sum(t["max_score"] for t in reference_run.results["tests"] if title in t["tags"])
    assert grade_cell(REFERENCE_DIR, title).metadata["nbgrader"]["points"] == checks > 0


def test_stubs_get_zero(stub_run):
    """The untouched student notebooks score 0 of the full maximum."""
    assert stub_run.results["score"] == 0
    assert printed_total(stub_run.stdout) == (0, stub_run.results["max_score"])


def test_stub_failures_say_not_implemented(stub_run):
    """Every graded test fails on the stubs with a one-line 'not implemented yet' message."""
    outputs = [t["output"] for t in stub_run.results["tests"]]
    unclear = [o for o in outputs if "is not implemented yet" not in o or "\n" in o]
    assert not unclear, unclear


def test_stub_run_gives_each_graded_name_one_line(stub_run):
    """The feedback names each graded name once, on one line saying which stub is not implemented yet, and where."""
    section = stub_run.stdout.split(" feedback, by part and function ")[1].split("\n==")[0]
    function_lines = [line for line in section.splitlines() if line.startswith("  ")]
    names = [line.split()[1].rstrip(":") for line in function_lines]
    checked = {test["extra_data"]["checks"] for test in stub_run.results["tests"]}
    assert sorted(names) == sorted(checked) and checked <= set(NOTEBOOK_OF), section
    assert all("not implemented yet (" in line and ", the cell that starts with `" in line for line in function_lines)


def test_a_students_check_ends_with_the_score_table(stub_run_without_reference):
    """A student's check ends with the score table, total last, and lists no FAILED lines after the feedback."""
    last_lines = stub_run_without_reference.stdout.rstrip().splitlines()[-len(PARTS) - 1:]
    assert [line.split("  ")[0] for line in last_lines] == [*PARTS, "Total"], stub_run_without_reference.stdout[-2000:]


def test_a_students_check_does_not_speak_of_confinement(stub_run_without_reference):
    """Confinement, which means nothing to a student checking their work, is not mentioned in their check."""
    assert "confined" not in stub_run_without_reference.stdout.lower()


def test_a_students_total_says_what_is_left_for_grading(stub_run_without_reference):
    """Without the reference, the total counts only what can be checked here and says how many points are left."""
    total = stub_run_without_reference.stdout.rstrip().splitlines()[-1]
    assert re.fullmatch(r"Total\s+0 / [\d.]+ checked here; [\d.]+ more points are checked when your instructor "
                        r"grades\.?", total), total


def test_an_instructors_grading_ends_saying_how_student_code_was_confined(stub_run):
    """With the reference present, one line after the score table says how student code was confined."""
    lines = stub_run.stdout.rstrip().splitlines()
    assert lines[-1].startswith("Student code ran confined (") and lines[-2].startswith("Total "), lines[-3:]


def test_check_titles_are_words_not_pytest_ids(stub_run):
    """Every check's title is unique and carries no pytest parameter id such as ``[float32-softmax]``."""
    tests = stub_run.results["tests"]
    names = [test["name"] for test in tests]
    # A title may quote a tensor ("[1.78, 0.76, 1.65]"); what it must not carry is its check's own pytest id.
    with_ids = [test["name"] for test in tests
                if "[" in test["test"] and test["test"][test["test"].index("["):] in test["name"]]
    assert len(set(names)) == len(names) and not with_ids, names


def test_stub_run_shows_no_grader_traceback(stub_run):
    """Grading the stubs prints no traceback and no internal error of the grader."""
    assert "Traceback" not in stub_run.stdout
    assert "Internal error" not in stub_run.stdout


def test_reference_comparisons_are_skipped_without_solutions(stub_run_without_reference):
    """Without solutions/, checks that need the reference say they were not checked."""
    outputs = [t["output"] for t in stub_run_without_reference.results["tests"]]
    skipped = [o for o in outputs if o.startswith("Not checked: the reference solutions")]
    assert skipped, outputs
    assert "more points are checked when your instructor grades" in stub_run_without_reference.stdout


def test_five_runs_give_the_same_grades(tmp_path):
    """A submission that fails some property checks gets the same score and messages on five runs."""
    submission = mutant_submission(MUTANTS["softmax_without_the_max_shift"], tmp_path / "submission")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda i: run_grader(submission, tmp_path / f"results{i}.json"), range(5)))
    first = without_grading_time(runs[0].results)
    assert 0 < first["score"] < first["max_score"]
    for run in runs[1:]:
        assert without_grading_time(run.results) == first


def without_grading_time(results: dict) -> dict:
    """``results`` without the facts about the grading run itself (when it ran), which differ from run to run."""
    return {**results, "extra_data": {k: v for k, v in results["extra_data"].items() if k != "grading"}}
