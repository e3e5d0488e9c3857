"""Who is in the class, and which of the folders in nbgrader's ``submitted/`` are theirs.

The class list comes from the instructor, never from a student: nbgrader's gradebook
(``nbgrader db student add`` or ``import``) and, or, a ``students.csv`` in the format of
``students.example.csv``. A folder's name in ``submitted/`` is whatever id a student gave
``nbgrader submit --student`` (nbgrader refuses only ``*`` and ``+``, and ``collect`` only warns),
so a folder that is not on the list is reported and not graded, unless the instructor admits it;
with no list at all, only a folder whose name is a plain id is graded (``PLAIN_ID``).
"""

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

# A plain id: a letter or a digit, then letters, digits, ".", "_", "-" or "@", 64 characters at most. It covers
# university logins, JupyterHub user names and e-mail addresses, and it cannot start a spreadsheet formula
# (= + - @), hold a terminal's escape sequence or a bidirectional override, or name a path.
PLAIN_ID = re.compile(r"[^\W_][\w.@-]{0,63}")
PLAIN_ID_RULE = "a letter or digit, then at most 63 letters, digits, '.', '_', '-' or '@'"
# The columns of a students.csv, as `nbgrader db student import` reads them; only "id" is required.
ID_COLUMN = "id"
NAME_COLUMNS = ("first_name", "last_name", "email")
MAX_ROSTER_BYTES = 16 * 1024 * 1024


class RosterError(Exception):
    """The roster cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Student:
    """One student on the roster, as nbgrader's gradebook keeps them."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass
class Roster:
    """The class list, and where it came from ("the gradebook", "students.csv", both)."""

    students: dict[str, Student] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def add(self, students: list[Student], source: str) -> None:
        """Add ``students`` from ``source``; a student already listed keeps the first entry."""
        for student in students:
            self.students.setdefault(student.id, student)
        self.sources.append(source)

    @property
    def source(self) -> str:
        """Where the list came from, for people: "the gradebook and students.csv"."""
        return " and ".join(self.sources)


def is_plain(student_id: str) -> bool:
    """Whether ``student_id`` is a plain id (see ``PLAIN_ID``)."""
    return PLAIN_ID.fullmatch(student_id) is not None


def read_roster_csv(path: Path) -> list[Student]:
    """The students of a CSV with an ``id`` column (``students.example.csv``'s format), in its order.

    Raises ``RosterError`` for a file that cannot be read, has no ``id`` column, or a row without an id.
    """
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path} is larger than {MAX_ROSTER_BYTES // 2**20} MB; is it the class list?")
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a spreadsheet may save a BOM
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames or [], list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{path} cannot be read as a CSV file ({error})") from None
    if ID_COLUMN not in header:
        raise RosterError(f"{path} has no column {ID_COLUMN!r}: its first line must name the columns, "
                          f"as students.example.csv's does ({ID_COLUMN},{','.join(NAME_COLUMNS)})")
    students = []
    for line, row in enumerate(rows, start=2):
        student_id = (row.get(ID_COLUMN) or "").strip()
        if not student_id:
            raise RosterError(f"{path}, line {line}: no {ID_COLUMN}")
        students.append(Student(student_id, *((row.get(column) or "").strip() for column in NAME_COLUMNS)))
    return students


@dataclass
class Sorted:
    """The folders of ``submitted/`` sorted against the roster.

    ``graded``: the ids to grade, sorted; ``admitted``: those of them the roster lacks, admitted by the
    instructor; ``absent``: the roster's ids with no submission; ``refused``: folder name -> why it is not graded.
    """

    graded: list[str] = field(default_factory=list)
    admitted: set[str] = field(default_factory=set)
    absent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def sort_submissions(folders: list[str], roster: Roster | None, admit_unlisted: bool = False) -> Sorted:
    """Which of ``folders`` (the names of the submissions in ``submitted/``) to grade, and who submitted nothing.

    On a roster, a folder is graded when its name is on it, or, with ``admit_unlisted``, when it is a plain id.
    With no roster, a folder is graded when its name is a plain id. Every other folder is refused, with why.
    """
    result = Sorted()
    for name in sorted(set(folders)):
        listed = roster is not None and name in roster.students
        if listed or (is_plain(name) and (roster is None or admit_unlisted)):
            result.graded.append(name)
            if roster is not None and not listed:
                result.admitted.add(name)
        elif roster is None:
            result.refused[name] = f"not a plain id ({PLAIN_ID_RULE}), and there is no roster to find it on"
        elif is_plain(name):
            result.refused[name] = f"not on the roster ({roster.source})"
        else:
            result.refused[name] = f"not on the roster ({roster.source}), and not a plain id ({PLAIN_ID_RULE})"
    if roster is not None:
        result.absent = sorted(set(roster.students) - set(result.graded))
    return result
