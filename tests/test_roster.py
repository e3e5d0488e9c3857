"""Who is graded: the roster, ids a student chose, and text made inert for the people who read it.

Fast: no grading. grade-all's own runs are in tests/test_instructor_loop.py (with nbgrader's real
exchange) and tests/test_class_report.py.
"""

import csv
import io
from pathlib import Path

import pytest

from autograder.contract import REPO_ROOT
from autograder.instructor.class_outputs import class_summary, grades_csv, terminal_lines
from autograder.instructor.roster import PLAIN_ID_RULE, Roster, RosterError, Student, read_roster_csv, sort_submissions
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import Graded
from autograder.reports.untrusted import csv_cell, log_text, shown

# Ids a student can give `nbgrader submit --student`: spreadsheet formulas, a terminal's escape sequences (a new
# window title, then the screen erased), a bidirectional override, and bytes that are not UTF-8.
HOSTILE_IDS = ('=HYPERLINK("evil.example","grades")', "@SUM(A1:A9)", "-2-3", "+cmd",
               "\x1b]0;owned\x07\x1b[2J", "alice\u202eevil", "bad\udcff")


def roster(*ids: str) -> Roster:
    """A roster of ``ids``, from a students.csv."""
    listed = Roster()
    listed.add([Student(i) for i in ids], "students.csv")
    return listed


def test_without_a_roster_a_plain_id_is_graded() -> None:
    """With no roster, folders named like logins, hub users or e-mail addresses are graded."""
    ids = ["alice", "b.baker", "c_c-3", "dee@uni.example", "Ünal"]
    assert sort_submissions(ids, None).graded == sorted(ids)


@pytest.mark.parametrize("student_id", HOSTILE_IDS)
def test_without_a_roster_an_id_that_is_not_plain_is_refused_with_the_rule(student_id: str) -> None:
    """With no roster, a folder whose name is a formula, holds escape sequences or odd bytes is not graded, and the
    reason names the rule an id must follow."""
    found = sort_submissions([student_id, "alice"], None)
    assert found.graded == ["alice"] and PLAIN_ID_RULE in found.refused[student_id]


def test_on_a_roster_a_folder_of_no_student_is_refused_even_when_plain() -> None:
    """A made-up plain id is refused when a roster is given: the roster, not the folder, says who is in the class."""
    found = sort_submissions(["alice", "mallory2"], roster("alice"))
    assert found.graded == ["alice"] and "not on the roster (students.csv)" in found.refused["mallory2"]


def test_on_a_roster_a_student_without_a_folder_is_absent() -> None:
    """Every student on the roster without a submission is listed as absent."""
    assert sort_submissions(["alice"], roster("alice", "frank", "zoe")).absent == ["frank", "zoe"]


def test_an_id_on_the_roster_is_graded_whatever_its_characters() -> None:
    """The roster is the instructor's: an id it lists is graded even where it is not plain (o'brien)."""
    assert sort_submissions(["o'brien"], roster("o'brien")).graded == ["o'brien"]


def test_admitting_the_unlisted_grades_plain_ids_only() -> None:
    """--admit-unlisted grades a plain id the roster lacks, and still refuses one that is not plain."""
    found = sort_submissions(["alice", "newcomer", "=1*2"], roster("alice"), admit_unlisted=True)
    assert found.graded == ["alice", "newcomer"] and found.admitted == {"newcomer"} and "=1*2" in found.refused


def test_the_example_roster_is_read_with_its_names() -> None:
    """students.example.csv, the format `nbgrader db student import` reads, gives its students with their names."""
    students = read_roster_csv(REPO_ROOT / "students.example.csv")
    assert students[0] == Student("alice", "Alice", "Archer", "alice@example.edu") and len(students) >= 2


def test_a_roster_without_an_id_column_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A CSV without an id column is refused, saying which columns it needs."""
    path = tmp_path / "students.csv"
    path.write_text("name,email\nAlice,alice@example.edu\n")
    with pytest.raises(RosterError, match="has no column 'id'.*id,first_name,last_name,email"):
        read_roster_csv(path)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_cell_never_starts_a_formula(start: str) -> None:
    """A cell starting with any of OWASP's formula characters starts with neither it nor a control character."""
    cell = csv_cell(start + "HYPERLINK(1)")
    assert cell[0] not in "=+-@\t\r" and cell.endswith("HYPERLINK(1)")


@pytest.mark.parametrize("sequence", ["\x1b]0;owned\x07", "\x1b[2J", "\x9b31m", "\r", "\u202e", "\u2028", "\udcff"])
def test_shown_text_holds_no_character_a_terminal_acts_on(sequence: str) -> None:
    """ESC, BEL, the C1 CSI, a carriage return, a bidirectional override, a line separator and an undecodable byte
    are written as their escapes, readable and inert."""
    said = shown(f"before{sequence}after")
    assert said == "before" + repr(sequence)[1:-1] + "after" and said.isprintable()


def test_a_log_keeps_its_lines_and_tabs_and_loses_its_escapes() -> None:
    """A log's newlines and tabs stay; an escape sequence in it does not."""
    assert log_text("line 1\n\tline 2 \x1b[2Kerased") == "line 1\n\tline 2 \\x1b[2Kerased"


def hostile_record() -> ClassRecord:
    """A class where every hostile id is on the roster and graded, one is absent, and one more is refused."""
    grades = [Graded(student_id, {"score": 1.0, "max_score": 2.0, "tests": []}) for student_id in HOSTILE_IDS[1:]]
    return ClassRecord(grades, absent=[HOSTILE_IDS[0]], refused={"\x1b]2;x\x07=1": "not on the roster"}, roster="x")


def test_grades_csv_holds_no_formula_and_no_control_character() -> None:
    """Every id of grades.csv, graded or absent, reaches a spreadsheet as text: no cell starts a formula, and no
    character in the file is a control one but its line ends."""
    text = grades_csv(hostile_record())
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert len(cells) > len(HOSTILE_IDS) and not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert text.replace("\n", "").isprintable()


def test_the_terminal_lines_hold_no_control_character() -> None:
    """The summary and every line grade-all prints of a refused or ungraded folder are printable text."""
    record = hostile_record()
    record.grades.append(Graded("\x1b[31mred", None, "not graded: \x1b[2J"))
    lines = [class_summary(record, None), *terminal_lines(record)]
    assert len(lines) >= 3 and all(line.isprintable() for line in lines), lines
