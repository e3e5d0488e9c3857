"""Feedback is grouped by part and graded function, one line per repeated cause, short for any submission."""

from autograder.boundary.messages import failing_example
from autograder.reports.feedback import MAX_MESSAGE_LINES, cut, feedback_text, group
from autograder.reports.report import NOT_CHECKED
from autograder.reports.student_report import render

PART_1, PART_3 = "Part 1: linear regression", "Part 3: activation functions"
STUB = "`sgd_step` is not implemented yet (01_linear_regression.ipynb, the cell that starts with `def sgd_step`, line 14)"
UNREADABLE = "03_activations.ipynb could not be read as a notebook (JSONDecodeError: ...), so nothing in it can be graded."


def check(name: str, part: str, checks: str, score: float, output: str = "", stub: str = "", max_score: float = 1.0,
          state: str | None = None) -> dict:
    """One results.json test entry; its state is what the grader set (by its points, where not given)."""
    state = state or ("stub" if stub else "passed" if score >= max_score else "failed")
    extra = {"checks": checks, "state": state, **({"stub": stub} if stub else {})}
    return {"name": name, "test": f"test_{name}", "score": score, "max_score": max_score, "tags": [part],
            "output": output, "extra_data": extra}


def results(*tests: dict) -> dict:
    """A results.json holding ``tests``."""
    return {"score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests),
            "tests": list(tests), "extra_data": {}}


def test_an_untouched_stub_is_one_line_however_many_checks_it_fails():
    """Four checks failed by sgd_step's stub give one line naming the stub and its cell."""
    graded = results(*(check(f"c{i}", PART_1, "sgd_step", 0, STUB, stub="sgd_step") for i in range(4)))
    lines = feedback_text(graded, [PART_1]).splitlines()
    assert lines == [f"{PART_1}: 0 / 4", "  ✗ sgd_step: 0 / 4 — not implemented yet (01_linear_regression.ipynb, "
                                          "the cell that starts with `def sgd_step`, line 14)"]


def test_the_functions_own_stub_hides_failures_caused_by_other_stubs():
    """train_mlp's own stub is its one line, though one of its checks failed on Model's stub first."""
    own = "`train_mlp` is not implemented yet (...)"
    graded = results(check("a", "Part 2: the Iris MLP", "train_mlp", 0, own, stub="train_mlp"),
                     check("b", "Part 2: the Iris MLP", "train_mlp", 0, "`Model.__init__` is not implemented yet",
                           stub="Model.__init__"))
    function = group(graded, ["Part 2: the Iris MLP"])[0].functions[0]
    assert function.one_line and function.failures[0].message == own and len(function.failures[0].checks) == 2


def test_passed_checks_are_a_count():
    """A function whose checks all passed is one line with how many passed, and names none of them."""
    graded = results(check("softmax sums to one", PART_3, "softmax", 1), check("softmax is shift-invariant", PART_3, "softmax", 1))
    assert feedback_text(graded, [PART_3]).splitlines() == [f"{PART_3}: 2 / 2", "  ✓ softmax: 2 / 2 (2 passed)"]


def test_checks_that_fail_alike_share_one_message():
    """Two checks with the same message show it once; a third with another message gets one line."""
    graded = results(check("a", PART_3, "relu", 0, "relu changed its input"), check("b", PART_3, "relu", 0, "relu changed its input"),
                     check("c", PART_3, "relu", 0, "relu's gradient is wrong\nmore detail"), check("d", PART_3, "relu", 1))
    text = feedback_text(graded, [PART_3])
    assert text.count("relu changed its input") == 1 and text.count("relu's gradient is wrong") == 1
    assert "more detail" not in text  # only the first failure is shown in full
    assert "  ✗ relu: 1 / 4 (3 failed, 1 passed)" in text


def test_an_unreadable_notebook_is_said_once_for_its_part():
    """When one message explains every lost point of a part, the part shows it once."""
    graded = results(*(check(f"{name}{i}", PART_3, name, 0, UNREADABLE) for name in ("sigmoid", "tanh") for i in range(3)))
    text = feedback_text(graded, [PART_3])
    assert text.count(UNREADABLE) == 1 and "sigmoid, tanh" in text


def test_checks_not_run_here_are_counted_and_not_failures():
    """A reference comparison skipped where solutions/ is absent is counted, and costs no 'failed' line."""
    graded = results(check("a", PART_3, "tanh", 1),
                     check("b", PART_3, "tanh", 0, NOT_CHECKED + "the reference is not here", state="not checked"))
    text = feedback_text(graded, [PART_3])
    assert "✓ tanh: 1 / 1 (1 passed, 1 more check when your instructor grades)" in text
    assert "Part 3: activation functions: 1 / 1 checked here (1 more when your instructor grades)" in text


def test_a_failure_whose_message_says_not_checked_is_shown_as_failed():
    """A check the grader says failed is a failure, whatever its message says (student code can write "Not checked")."""
    graded = results(check("a", PART_3, "tanh", 1), check("b", PART_3, "tanh", 0, NOT_CHECKED + "honestly"))
    text = feedback_text(graded, [PART_3])
    assert "✗ tanh: 1 / 2 (1 failed, 1 passed)" in text and "✓" not in text


def test_a_huge_message_is_cut():
    """A message of thousands of lines is cut to a few, saying how many were left out."""
    message = cut("\n".join(f"line {i}" for i in range(5000)))
    assert len(message.splitlines()) == MAX_MESSAGE_LINES + 1 and "4988 more lines" in message


def test_a_failing_example_shows_only_the_inputs():
    """Hypothesis's failing example keeps the test's inputs and drops its fixtures and its data object."""
    note = ("Failing test case: test_accuracy(\n    student=student,\n    from_scratch=check,\n"
            "    scores=tensor([[0., 0., 0.],\n            [0., 0., 0.]]),\n    data=data(...),\n)")
    assert failing_example(note, frozenset({"student", "from_scratch"})) == (
        "The smallest example found:\n  scores = tensor([[0., 0., 0.],\n                   [0., 0., 0.]])")
    assert failing_example("Draw 1 (labels): [0, 0]", frozenset()) == "  labels = [0, 0]"


def test_the_page_has_the_header_the_score_and_collapsed_passes():
    """The page names the assignment, student, date and grader, leads with the total, and folds passed checks."""
    graded = results(check("sigmoid is right", PART_3, "sigmoid", 1), check("relu is right", PART_3, "relu", 0, "wrong"))
    graded["extra_data"]["grading"] = {"assignment": "pytorch_nn", "graded_at": "2026-11-27T10:49:00+00:00",
                                       "grader": "pytorch-nn-assignment 0.1.0 (abc)"}
    page = render("alice", graded, [PART_3])
    header = page.index("<b>alice</b>")
    assert header < page.index("1 / 2 points") < page.index('id="part-1"')
    assert "27 Nov 2026, 10:49 UTC" in page and "pytorch-nn-assignment 0.1.0 (abc)" in page
    folded = page[page.index('<details class="function">'):page.index("</details>")]
    assert "<code>sigmoid</code>" in folded and "1 check passed" in folded and "<li>sigmoid is right</li>" in folded


def test_a_submission_that_could_not_be_graded_says_so():
    """Without results the page says why and whom to tell."""
    page = render("erin", None, [PART_3], "the grading run did not complete")
    assert "could not be graded: the grading run did not complete" in page and "tell your instructor" in page
