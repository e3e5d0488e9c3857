"""The instructor's class report: what it computes from results.json files, and the page a class of ten gets.

The first tests build results by hand and run in milliseconds. The slow ones grade the
class of tests/class_submissions.py once with ``grade-all`` and read the page it wrote, in
a real browser too.
"""

import csv
import re
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from autograder.contract import ASSIGNMENT_ID, RELEASE_DIR
from autograder.reports import class_report
from autograder.reports.causes import failure_groups, message_key, pass_rates, stubs_left
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import Graded
from autograder.reports.similarity import NotebookMatch, SimilarPair, Similarity
from tests.browser import browser, open_page, page_facts, screenshot  # noqa: F401 - browser is a fixture
from tests.class_submissions import COPIES, INDEPENDENT, build_class

PART1, PART3 = "Part 1: linear regression", "Part 3: activation functions"
WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
EXAMPLE = "Failing test case: test_softmax(\n    student=student,\n    z=tensor([{}]),\n)"
# The page's height at 1024 px for the class of ten, measured at about 3,200 px; a page twice
# that is no longer one an instructor reads.
MAX_HEIGHT = 7000
FIRST_SCREEN = 768  # px: the height of the browser's window


def check(test: str, part: str, passed: bool, output: str = "", max_score: float = 1.0, stub: str = "") -> dict:
    """One test's entry in results.json; ``stub`` names the untouched stub the grader found it met."""
    state = "stub" if stub else "passed" if passed else "failed"
    return {"name": f"{test} holds.", "test": test, "score": max_score if passed else 0.0, "max_score": max_score,
            "status": "passed" if passed else "failed", "tags": [part], "output": output,
            "extra_data": {"checks": test.split("_")[1], "state": state, **({"stub": stub} if stub else {})}}


def graded(student_id: str, *tests: dict) -> Graded:
    """A grade with these tests, summed as results.json sums them."""
    return Graded(student_id, {"score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests),
                               "tests": list(tests)})


def test_messages_that_differ_only_in_numbers_and_examples_are_one_failure() -> None:
    """Two students' softmax failures with different numbers and shrunk examples count as one message of two students."""
    first = "softmax overflows: got nan at index 3.\n" + EXAMPLE.format("1e4")
    second = "softmax overflows: got nan at index 17.\n" + EXAMPLE.format("-88.5, 2.0")
    groups = failure_groups([graded("a", check("test_softmax", PART3, False, first)),
                             graded("b", check("test_softmax", PART3, False, second))])
    assert [(g.students, g.message) for g in groups] == [({"a", "b"}, "softmax overflows: got nan at index 3.")]


def test_messages_that_say_different_things_are_different_failures() -> None:
    """Failures whose words differ stay apart, however alike their numbers."""
    assert message_key("softmax overflows at 3") != message_key("sigmoid overflows at 3")


def test_an_untouched_stub_is_one_row_for_its_function_not_one_per_check() -> None:
    """A stub failing five checks appears once, under its function's name, and not among the failures."""
    stub = "`relu` is not implemented yet: replace `raise NotImplementedError()` in 03_activations.ipynb, cell 16."
    grades = [graded(s, *(check(f"test_relu_{i}", PART3, False, stub, stub="relu") for i in range(5)))
              for s in ("a", "b")]
    assert stubs_left(grades) == {"relu": {"a", "b"}}
    assert failure_groups(grades) == []


def test_a_failure_whose_message_reads_like_a_stub_or_unchecked_counts_as_a_failure() -> None:
    """Messages student code wrote ("... is not implemented yet", "Not checked: ...") change nothing: a check the
    grader says failed is among the class's failures, and nobody is listed as leaving a stub."""
    forged = ["`relu` is not implemented yet: replace `raise NotImplementedError()`.", "Not checked: later."]
    grades = [graded(s, check("test_relu_1", PART3, False, message)) for s, message in zip("ab", forged)]
    assert stubs_left(grades) == {}
    assert sorted(student for group in failure_groups(grades) for student in group.students) == ["a", "b"]


def test_pass_rates_count_only_submissions_that_were_graded() -> None:
    """A check passed by one of two graded students is at 1 / 2, whatever the ungraded submissions."""
    grades = [graded("a", check("test_x", PART1, True)), graded("b", check("test_x", PART1, False, "no")),
              Graded("c", None, "the grading run did not complete")]
    assert [(r.name, r.passed, r.graded) for r in pass_rates(grades)] == [("test_x holds.", 1, 2)]


@pytest.fixture(scope="module")
def small_class_page() -> str:
    """The page for three students: full marks, a failure, and one that could not be graded (rendered once: plots take a second)."""
    grades = [graded("a", check("test_x", PART1, True), check("test_y", PART3, True)),
              graded("b", check("test_x", PART1, False, "x is wrong"), check("test_y", PART3, True)),
              Graded("c", None, "not graded: the grading run did not complete; see c/grading.log")]
    return class_report.render(ClassRecord(grades), Similarity([]), "pytorch_nn", WHEN)


def test_the_page_needs_nothing_but_itself(small_class_page: str) -> None:
    """No script, and no image or style sheet that loads from elsewhere: the page is one file; its only links
    lead within it, or to the students' own feedback pages beside it."""
    page = small_class_page
    assert "<script" not in page
    assert not re.findall(r'src="(?!data:)', page)
    assert set(re.findall(r'href="([^"#][^"]*)"', page)) == {"a/feedback.html", "b/feedback.html", "c/feedback.html"}


def test_one_mistake_is_one_cause_among_the_common_failures() -> None:
    """A tanh that fails eight checks, each with a message of its own, is one cause, under tanh, costing eight checks."""
    tests = [{**check(f"test_tanh_{i}", PART3, False, f"tanh breaks property {i}"), "extra_data": {"checks": "tanh"}}
             for i in range(8)]
    groups = failure_groups([graded("a", *tests), graded("b", *tests)])
    assert [(g.function, g.message, g.students, len(g.checks)) for g in groups] == [
        ("tanh", "tanh breaks property 0", {"a", "b"}, 8)]


def test_a_message_every_function_of_a_notebook_fails_with_is_one_cause() -> None:
    """An unreadable notebook fails every check of its five functions with one message: one cause, of the notebook,
    with both its students, not five."""
    message = "01_linear_regression.ipynb could not be read as a notebook (JSONDecodeError: line {}), so nothing..."
    names = ("model", "loss_fn", "sgd_step", "train_linear_regression", "train_nn_regression")
    grades = [graded(s, *({**check(f"test_{n}", PART1, False, message.format(i)), "extra_data": {"checks": n}}
                          for n in names)) for i, s in enumerate("ab")]
    groups = failure_groups(grades)
    assert [(g.function, g.students, len(g.checks)) for g in groups] == [("01_linear_regression.ipynb", {"a", "b"}, 5)]


def test_a_function_that_fails_through_one_it_uses_shares_that_functions_cause() -> None:
    """sigmoid refused for a call, and tanh refused because it uses sigmoid: one cause, covering both."""
    refusal = "uses `torch.sigmoid` on line 2 of 03_activations.ipynb, the cell that starts with `def sigmoid`: no."
    tests = [{**check("test_sigmoid", PART3, False, f"sigmoid {refusal}"), "extra_data": {"checks": "sigmoid"}},
             {**check("test_tanh", PART3, False, f"tanh uses sigmoid, which {refusal}"), "extra_data": {"checks": "tanh"}},
             {**check("test_relu", PART3, True), "extra_data": {"checks": "relu"}}]
    assert [(g.function, g.message) for g in failure_groups([graded("a", *tests)])] == [
        ("sigmoid, tanh", f"sigmoid {refusal}")]


def test_a_function_the_grader_says_fails_through_a_wrong_one_shares_its_cause() -> None:
    """A training loop whose checks fail because loss_fn is wrong ("fix loss_fn first") is one cause with loss_fn's,
    under loss_fn's message; sgd_step, wrong on its own, is a cause of its own."""
    wrong = "loss_fn(input, target) is not the mean of (input - target) ** 2: got 12.0, expected 3.0."
    blamed = "This check uses your loss_fn, whose own checks fail: fix loss_fn first.\nhistory[0] is 9.0, not 2.0."
    tests = [{**check("test_loss", PART1, False, wrong), "extra_data": {"checks": "loss_fn"}},
             {**check("test_train", PART1, False, blamed), "extra_data": {"checks": "train_linear_regression"}},
             {**check("test_sgd", PART1, False, "sgd_step adds the gradient."), "extra_data": {"checks": "sgd_step"}}]
    assert sorted((g.function, g.message) for g in failure_groups([graded("a", *tests)])) == [
        ("loss_fn, train_linear_regression", wrong), ("sgd_step", "sgd_step adds the gradient.")]


def test_a_student_without_a_submission_has_a_row_and_counts_in_no_statistic() -> None:
    """zoe, on the roster with nothing submitted, has a row saying so; the median is the graded students' alone."""
    grades = [graded("a", check("test_x", PART1, True), check("test_y", PART1, True)),
              graded("b", check("test_x", PART1, True), check("test_y", PART1, False, "no"))]
    page = class_report.render(ClassRecord(grades, absent=["zoe"], roster="students.csv"), Similarity([]), "p", WHEN)
    table = page[page.index('<table class="students">'):]
    assert re.search(r'<tr class="absent"><td>zoe</td>.*?no submission', table)
    assert "median score 1.5 / 2" in page and "1 without a submission" in page


def test_a_folder_named_with_escape_sequences_is_shown_as_escapes() -> None:
    """A refused folder whose name retitles a terminal appears in the page as its escapes, and no control character
    of it reaches the page."""
    record = ClassRecord([], refused={"\x1b]0;owned\x07": "not on the roster"}, roster="the gradebook")
    page = class_report.render(record, Similarity([]), "pytorch_nn", WHEN)
    assert "<code>\\x1b]0;owned\\x07</code>" in page and "\x1b" not in page and "\x07" not in page


def test_the_student_table_gives_each_student_their_points_and_page(small_class_page: str) -> None:
    """Every student has a row with a link to their page; the one not graded says so."""
    table = small_class_page[small_class_page.index('<table class="students">'):]
    table = table[:table.index("</table>")]
    assert re.search(r'<a href="b/feedback.html">b</a></td><td class="number">1</td>', table), table
    assert re.search(r'<a href="c/feedback.html">c</a>.*could not be graded', table), table


def test_the_page_says_which_submission_could_not_be_graded_and_why(small_class_page: str) -> None:
    """The ungraded submission is named in the summary's count and in its own table, with its reason."""
    page = small_class_page
    assert "1 could not be graded" in page
    assert "<td>c</td><td>not graded: the grading run did not complete; see c/grading.log</td>" in page


def test_the_hardest_check_comes_first(small_class_page: str) -> None:
    """In the table of hardest checks, the one fewest students passed is the first row."""
    page = small_class_page
    table = page[page.index('<table class="rates">'):]
    assert table.index("test_x holds.") < table.index("test_y holds.")


def test_one_flagged_pair_is_said_in_the_singular() -> None:
    """The summary says "1 pair of submissions is", never "1 pairs"."""
    pair = SimilarPair("a", "b", {"03_activations.ipynb": NotebookMatch(0.9, 500)})
    assert "1 pair of submissions is suspiciously similar" in class_report.summary(ClassRecord([]), Similarity([pair]))


def test_the_page_is_readable_by_others(tmp_path: Path) -> None:
    """The class report is written with mode 0644, so a teaching assistant on the same machine can open it."""
    path = tmp_path / class_report.CLASS_REPORT
    class_report.write(path, ClassRecord([]), Similarity([]), "pytorch_nn", WHEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# The class of ten, graded once.

# Folders of submitted/ that are no student of the roster: a spreadsheet formula, and a terminal's escape sequence.
NOT_STUDENTS = ('=HYPERLINK("evil.example","grades")', "\x1b[31mred\x1b[0m")
ABSENT = "zoe"  # on the roster, nothing submitted


@pytest.fixture(scope="module")
def class_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """``grade-all`` over tests/class_submissions.py's class, two at a time, with a students.csv roster of the ten
    and zoe, and two folders of no student beside them (``-X importtime``: its own imports listed on stderr); its run
    and its output folder."""
    root = tmp_path_factory.mktemp("class_report")
    folders = build_class(root / "submitted")
    for name in NOT_STUDENTS:
        shutil.copytree(RELEASE_DIR, root / "submitted" / name / ASSIGNMENT_ID)
    (root / "students.csv").write_text("id,first_name,last_name,email\n" + "".join(
        f"{student},,,\n" for student in [*folders, ABSENT]))
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "autograder", "grade-all", str(root / "submitted"),
                          "--out", str(root / "graded"), "--jobs", "2", "--roster", str(root / "students.csv")],
                         capture_output=True, text=True, timeout=900)
    return run, root / "graded"


@pytest.fixture(scope="module")
def report_page(class_run: tuple[subprocess.CompletedProcess, Path]) -> Path:
    """The class report that grade-all wrote."""
    run, graded_folder = class_run
    assert run.returncode == 0, run.stdout + run.stderr
    return graded_folder / class_report.CLASS_REPORT


def similar_rows(page_html: str) -> list[str]:
    """The student pairs of the similarity table, as "x and y"."""
    table = page_html[page_html.index('<table class="similar">'):]
    table = table[:table.index("</table>")]
    return re.findall(r"<tr><td>([^<]+)</td>", table)


@pytest.mark.slow
def test_grade_all_writes_the_class_report_and_says_where(class_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    """grade-all ends by naming the class report, beside grades.csv."""
    run, graded_folder = class_run
    assert f"Class report: {graded_folder / class_report.CLASS_REPORT}" in run.stdout, run.stdout + run.stderr
    assert (graded_folder / class_report.CLASS_REPORT).is_file() and (graded_folder / "grades.csv").is_file()


@pytest.mark.slow
def test_grade_all_itself_imports_no_torch(class_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    """grade-all's own process never imports torch (seconds of a class's fixed cost): a job slot tries the confinement
    for the class, and the slots grade."""
    run, _ = class_run
    imported = re.findall(r"^import time:.*\|\s+(\S+)$", run.stderr, re.MULTILINE)
    assert "autograder.instructor.grade_all" in imported and "torch" not in imported, run.stderr[-2000:]


@pytest.mark.slow
def test_grades_csv_has_every_student_on_the_roster_and_no_one_else(class_run) -> None:
    """grades.csv has a row for each of the eleven on the roster, zoe's saying "no submission", and none for the
    folders of no student, which were not graded."""
    run, graded_folder = class_run
    with open(graded_folder / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 11 and rows[ABSENT]["status"] == "no submission" and rows[ABSENT]["score"] == "0"
    assert not [name for name in NOT_STUDENTS if (graded_folder / name).exists()]


@pytest.mark.slow
def test_the_report_flags_the_copies_and_not_the_independent_solution(report_page: Path) -> None:
    """The similarity table lists hana, ivan and jack pairwise, and kim in no row."""
    rows = similar_rows(report_page.read_text())
    assert {f"{a} and {b}" for a, b in COPIES} <= set(rows)
    assert not [row for row in rows if INDEPENDENT in row.split(" and ")]


@pytest.mark.slow
def test_the_reports_failures_name_the_students_with_a_wrong_softmax(report_page: Path) -> None:
    """ben's softmax overflows: a failure of his is listed with him as its student, and his Part 2 among the stubs
    left unwritten, with cy's, lee's and max's."""
    page = report_page.read_text()
    failures = page[page.index('<table class="failures">'):]
    stubs = page[page.index('<table class="stubs">'):]
    assert re.search(r"softmax.*?</pre>.*?<td>ben</td>", failures, re.S), failures[:3000]
    assert re.search(r"<code>Model\.__init__</code></td><td class=\"number\">4</td><td>ben, cy, lee, max</td>", stubs)


@pytest.mark.slow
def test_in_a_browser_the_score_plots_load(browser, report_page: Path) -> None:  # noqa: F811
    """The overall score distribution and one plot per part are images that loaded."""
    open_page(browser, report_page)
    images = {image["alt"]: image["loaded"] for image in page_facts(browser)["images"]}
    assert images == {"score distribution: total": True,
                      **{f"score distribution: {part}": True for part in class_report.PARTS}}


@pytest.mark.slow
def test_in_a_browser_the_summary_and_the_total_plot_are_on_the_first_screen(browser, report_page: Path) -> None:  # noqa: F811
    """Without scrolling, an instructor sees the summary (with the flagged pairs) and the whole total-score plot."""
    from selenium.webdriver.common.by import By

    open_page(browser, report_page)
    summary = browser.find_element(By.CSS_SELECTOR, "ul.summary")
    plot_bottom = browser.execute_script(
        "return document.querySelector('img[alt=\"score distribution: total\"]').getBoundingClientRect().bottom")
    assert "pairs of submissions are suspiciously similar" in summary.text, summary.text
    assert plot_bottom <= FIRST_SCREEN, plot_bottom


@pytest.mark.slow
def test_in_a_browser_the_tables_show_pass_rates_and_the_copies(browser, report_page: Path,  # noqa: F811
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """A person sees the pass-rate table and the similarity table with the copies' pairs, kim in none of them."""
    from selenium.webdriver.common.by import By

    open_page(browser, report_page)
    rates = browser.find_element(By.CSS_SELECTOR, "table.rates").text
    similar = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.similar tr")][1:]
    screenshot(browser, tmp_path_factory.mktemp("screenshots") / "class_report.png")
    assert re.search(r"\d+ / 10", rates), rates
    assert {f"{a} and {b}" for a, b in COPIES} <= {row.split(" ")[0] + " and " + row.split(" ")[2] for row in similar}
    assert not [row for row in similar if INDEPENDENT in row.split(" ")[:3]]


@pytest.mark.slow
def test_in_a_browser_every_student_links_to_their_feedback_page(browser, report_page: Path) -> None:  # noqa: F811
    """Each row of the student table links to that student's feedback.html, which exists and opens."""
    from selenium.webdriver.common.by import By

    open_page(browser, report_page)
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "table.students a")}
    graded_folder = report_page.parent
    students = sorted(p.name for p in graded_folder.iterdir() if (p / "results.json").is_file())
    assert sorted(links) == students
    assert all(href == (graded_folder / s / "feedback.html").as_uri() for s, href in links.items()), links
    browser.get(links[students[0]])
    assert students[0] in browser.find_element(By.TAG_NAME, "body").text


@pytest.mark.slow
def test_in_a_browser_the_page_fits_1024_px_and_stays_short(browser, report_page: Path) -> None:  # noqa: F811
    """At 1024 px there is no horizontal scrolling, and the page is shorter than MAX_HEIGHT."""
    open_page(browser, report_page)
    facts = page_facts(browser)
    assert facts["scroll_width"] <= facts["client_width"], facts["scroll_width"]
    assert facts["height"] < MAX_HEIGHT, facts["height"]
