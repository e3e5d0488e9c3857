"""The instructor's whole loop with real nbgrader commands, in a temporary course, and a class graded in one command.

The course and its students are tests/nbgrader_course.py's: eight on the gradebook's roster (one
who submitted nothing, one unreadable notebook, one late student who rewrote his time, one who
patched what the check cells call), and three folders under ids of their own making.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, REFERENCE_DIR
from autograder.reports.untrusted import shown
from tests.browser import browser, open_page  # noqa: F401 - browser is a fixture
from tests.nbgrader_course import (COURSE_ID, ESCAPES, FORGED_TIME, HOSTILE_IDS, STUDENTS, Course, build_course,
                                   nbgrader, part_scores, student_nbgrader)

pytestmark = pytest.mark.slow


def grades(course: Course) -> dict[str, dict[str, str]]:
    """grades.csv, one row per student id."""
    with open(course.graded / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def results(course: Course, student: str) -> dict:
    return json.loads((course.graded / student / "results.json").read_text())


@pytest.fixture(scope="module")
def course(tmp_path_factory, tool_env) -> Iterator[Course]:
    """The course of tests/nbgrader_course.py, in a folder only its owner can enter, graded once."""
    built = build_course(tmp_path_factory.mktemp("course"), tool_env)
    yield built
    shutil.rmtree(built.exchange, ignore_errors=True)


def test_collect_brings_every_submission_and_no_more(course):
    """nbgrader collect gives one submitted/ folder per student who submitted, and none for frank."""
    expected = (set(STUDENTS) - {"frank"}) | set(HOSTILE_IDS)
    assert sorted(p.name for p in (course.root / "submitted").iterdir()) == sorted(expected)


def test_the_class_run_completes(course):
    """grade-all exits 0: every submission, the hostile one included, got a grade."""
    assert course.grade_all.returncode == 0, course.grade_all.stdout + course.grade_all.stderr


def test_grades_csv_has_one_row_per_student_with_the_part_columns(course):
    """grades.csv has student_id, score, max_score, one column per part, status and submitted, and a row for every
    student on the roster, and for no one else."""
    with open(course.graded / "grades.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["student_id", "score", "max_score", *PARTS, "status", "submitted"]
    assert sorted(grades(course)) == sorted(STUDENTS)


def test_the_correct_submission_gets_full_marks(course):
    """alice, who handed in the reference, gets every point."""
    row = grades(course)["alice"]
    assert float(row["score"]) == float(row["max_score"]) > 0


def test_the_partial_submission_gets_exactly_parts_1_and_3(course):
    """bob gets full marks on Parts 1 and 3 and nothing on Part 2."""
    row, maxima = grades(course)["bob"], results(course, "alice")
    full = {title: sum(t["max_score"] for t in maxima["tests"] if title in t["tags"]) for title in PARTS}
    assert {title: float(row[title]) for title in PARTS} == {
        title: (full[title] if title.startswith(("Part 1", "Part 3")) else 0.0) for title in PARTS
    }


@pytest.mark.parametrize("student", ["carol", "grace", "erin", "frank"])
def test_submissions_with_nothing_right_get_zero(course, student):
    """Stubs, an empty folder, the hostile submission and no submission at all each get zero."""
    assert float(grades(course)[student]["score"]) == 0


def test_the_student_without_a_submission_is_said_to_have_none(course):
    """frank, on the roster, is in grades.csv as "no submission", and in the summary line."""
    assert grades(course)["frank"]["status"] == "no submission"
    assert "1 without a submission (0 points)" in course.grade_all.stdout


@pytest.mark.parametrize("student, expected", [
    ("dave", "01_linear_regression.ipynb could not be read as a notebook"),
    ("dave", "02_iris_mlp.ipynb is missing from your submission"),
    ("dave", "has a syntax error"),
    ("dave", "`relu` is not defined at the top level of 03_activations.ipynb"),
    ("grace", "01_linear_regression.ipynb is missing from your submission"),
    ("carol", "`softmax` is not implemented yet"),
])
def test_a_bad_submission_is_told_why(course, student, expected):
    """Each kind of malformed submission gets a message naming what is wrong."""
    outputs = [t["output"] for t in results(course, student)["tests"]]
    assert any(expected in output for output in outputs), outputs[:5]


def test_the_malformed_submission_keeps_what_it_got_right(course):
    """dave's sigmoid and softmax still earn points though the rest of his notebooks are broken."""
    assert float(grades(course)["dave"]["Part 3: activation functions"]) > 0


def test_nbgrader_export_shows_the_same_scores(course):
    """`nbgrader export` after grade-all lists every student with grades.csv's score."""
    nbgrader(course.root, course.env, "export")
    with open(course.root / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert exported == {student: float(row["score"]) for student, row in grades(course).items()}


def test_a_rerun_grades_nothing_and_a_changed_submission_is_graded_again(course, tmp_path):
    """A second grade-all grades nothing; after carol's notebook changes, only hers is graded."""
    submitted, graded = tmp_path / "submitted", tmp_path / "graded"
    shutil.copytree(course.root / "submitted", submitted)
    shutil.copytree(course.graded, graded)
    command = [sys.executable, "-m", "autograder", "grade-all", str(submitted), "--out", str(graded)]
    again = subprocess.run(command, env=course.env, capture_output=True, text=True, timeout=600)
    assert "0 graded now, 7 already up to date" in again.stdout, again.stdout + again.stderr
    shutil.copy(REFERENCE_DIR / "03_activations.ipynb", submitted / "carol" / ASSIGNMENT_ID)
    changed = subprocess.run(command, env=course.env, capture_output=True, text=True, timeout=600)
    assert "1 graded now, 6 already up to date" in changed.stdout, changed.stdout + changed.stderr


def test_feedback_shows_the_score_the_failures_and_the_curves(course):
    """Each student's feedback.html has the total, the failures' messages and, for alice, her curves."""
    alice = (course.graded / "alice" / "feedback.html").read_text()
    carol = (course.graded / "carol" / "feedback.html").read_text()
    total = results(course, "alice")["max_score"]
    assert "data:image/png;base64," in alice and f"{total:g} / {total:g} points" in alice
    assert "not implemented yet" in carol and "data:image/png" not in carol


def test_students_fetch_their_feedback_through_nbgrader(course):
    """After `nbgrader release_feedback`, alice's `nbgrader fetch_feedback` brings one page per notebook."""
    nbgrader(course.root, course.env, "release_feedback", ASSIGNMENT_ID)
    home = course.homes / "alice"
    student_nbgrader(course.exchange, home, course.env, "fetch_feedback", ASSIGNMENT_ID)
    fetched = sorted(p.name for p in (home / ASSIGNMENT_ID / "feedback").rglob("*.html"))
    assert fetched == [Path(n).with_suffix(".html").name for n in sorted(GRADED_NAMES)]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="acting as another user needs root and setpriv (util-linux)")
def test_another_user_can_read_released_feedback(course):
    """On a shared hub each student is another user: nobody (uid 65534) can read the pages nbgrader released."""
    nbgrader(course.root, course.env, "release_feedback", ASSIGNMENT_ID)
    pages = sorted((course.exchange / COURSE_ID / "feedback").glob("*.html"))
    assert len(pages) >= len(GRADED_NAMES)  # alice's three, and the others'
    for page in pages:
        read = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(page)],
                              capture_output=True, text=True, timeout=60)
        assert read.returncode == 0 and "Feedback on pytorch_nn" in read.stdout, (page, read.stderr)


def test_no_id_a_student_made_up_reaches_grades_csv(course):
    """The three folders of ids no student of the class has are in no row of grades.csv, and no cell of it starts a
    formula or holds a control character."""
    text = (course.graded / "grades.csv").read_text()
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")] and text.replace("\n", "").isprintable()
    assert not set(HOSTILE_IDS) & set(grades(course))


def test_no_id_a_student_made_up_becomes_a_student_of_the_gradebook(course):
    """After grade-all --gradebook, the gradebook's students are the roster's, none of the made-up ids."""
    with Gradebook(course.db_url) as gradebook:
        assert sorted(s.id for s in gradebook.students) == sorted(STUDENTS)


def test_grade_all_prints_each_made_up_id_inert(course):
    """grade-all names each refused folder, its escape sequences as escapes: nothing it prints holds ESC or BEL."""
    printed = course.grade_all.stdout + course.grade_all.stderr
    assert "\x1b" not in printed and "\x07" not in printed
    assert all(f"Not graded: the folder '{shown(i)}'" in course.grade_all.stderr for i in HOSTILE_IDS), printed[-3000:]


def test_a_grading_log_holds_student_codes_escapes_inert(course):
    """pat's model raises an error whose text is a terminal's escape sequences: her grading.log shows them as
    escapes, and holds no ESC."""
    log = (course.graded / "pat" / "grading.log").read_text()
    assert shown(ESCAPES) in log and "\x1b" not in log


def test_the_gradebook_marks_only_bob_late(course):
    """The times come from the exchange's record, so only bob is late, though his timestamp.txt says 2000-01-01."""
    with Gradebook(course.db_url) as gradebook:
        late = {s.student.id for s in gradebook.assignment_submissions(ASSIGNMENT_ID) if s.total_seconds_late > 0}
    assert late == {"bob"}
    assert (course.root / "submitted" / "bob" / ASSIGNMENT_ID / "timestamp.txt").read_text() == FORGED_TIME


def test_grades_csv_records_bobs_time_after_the_due_date(course):
    """grades.csv's time of bob's submission is after the due date, and every other student's before it."""
    submitted = {s: row["submitted"] for s, row in grades(course).items() if row["submitted"]}
    due = course.due.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert sorted(submitted) == sorted(set(STUDENTS) - {"frank"})
    assert [s for s, when in submitted.items() if when > due] == ["bob"]


def test_the_report_flags_bobs_rewritten_timestamp(course):
    """The class report's table of times that disagree lists bob, with what his timestamp.txt says, and no one else."""
    page = (course.graded / "class_report.html").read_text()
    table = page[page.index('<table class="times">'):]
    table = table[:table.index("</table>")]
    assert FORGED_TIME in table and table.count("<tr>") == 2 and "<td>bob</td>" in table


def test_nbgrader_autograde_before_grade_all_puts_no_points_in_the_gradebook(course):
    """pat's cell replaced what the check cells call (their output says 1000), yet autograde gave no part a point."""
    autograded = course.root / "autograded" / "pat" / ASSIGNMENT_ID / "03_activations.ipynb"
    outputs = [o for cell in nbformat.read(autograded, as_version=4).cells for o in cell.get("outputs", [])]
    assert any("1000.0" in str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert course.before_grade_all == dict.fromkeys(PARTS, 0.0)


def test_nbgrader_autograde_after_grade_all_leaves_grade_alls_scores(course):
    """Autograding pat again after grade-all leaves each part at grade-all's score: Part 3's full marks, no more."""
    nbgrader(course.root, course.env, "autograde", ASSIGNMENT_ID, "--student=pat", "--force")
    expected = {title: float(grades(course)["pat"][title]) for title in PARTS}
    assert part_scores(course.db_url, "pat") == expected and expected["Part 3: activation functions"] == 30.5


def test_in_a_browser_the_report_shows_every_student_on_the_roster(browser, course):  # noqa: F811
    """The students table lists all eight on the roster, frank as "no submission"; dave's unreadable notebook is one
    cause among the common failures, and the made-up ids are in the table of folders not graded."""
    from selenium.webdriver.common.by import By

    open_page(browser, course.graded / "class_report.html")
    rows = {row.text.split(" ")[0]: row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.students tr")[1:]}
    failures = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.failures tr")[1:]]
    refused = browser.find_element(By.CSS_SELECTOR, "table.refused").text
    assert sorted(rows) == sorted(STUDENTS) and "no submission" in rows["frank"]
    assert len([row for row in failures if row.startswith("01_linear_regression.ipynb") and "dave" in row]) == 1
    assert all(shown(i) in refused for i in HOSTILE_IDS), refused
