"""A class's record: every student on the roster and what became of them, every folder refused, every time.

What grade-all hands the class report, ``grades.csv`` and the summary line, so that all three
show the same class: the grades of those who submitted, the students who submitted nothing, the
submission folders that are nobody on the roster, and when each submission was handed in.
"""

from dataclasses import dataclass, field
from datetime import datetime

from autograder.reports.report import Graded

# What becomes of a student on the roster, as grades.csv's "status" column and the report say it.
GRADED, NOT_GRADED, NO_SUBMISSION = "graded", "could not be graded", "no submission"
# A submission time and its timestamp.txt that differ by more than this disagree: nbgrader's submit writes the
# file a moment before its copy of the notebooks lands, on the same clock (a shared file system may add skew).
AGREEMENT_SECONDS = 60
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


@dataclass(frozen=True)
class SubmissionTime:
    """When a submission was handed in, from a record the student cannot write, and what its timestamp.txt says.

    ``recorded``: the last change to the submission in nbgrader's exchange (UTC), None where there is no such
    record (``unrecorded`` says why); ``claimed``: timestamp.txt's time, None where it is missing or unreadable;
    ``claimed_text``: what timestamp.txt holds, as written (for people, through ``untrusted.shown``).
    """

    recorded: datetime | None
    claimed: datetime | None = None
    claimed_text: str = ""
    unrecorded: str = ""

    @property
    def disagrees(self) -> bool:
        """Whether there is a record and timestamp.txt does not match it (missing, unreadable, or another time)."""
        if self.recorded is None:
            return False
        return self.claimed is None or abs((self.claimed - self.recorded).total_seconds()) > AGREEMENT_SECONDS

    @property
    def said(self) -> str:
        """The recorded time as grades.csv writes it, or ""."""
        return self.recorded.strftime(TIME_FORMAT) if self.recorded is not None else ""


@dataclass
class ClassRecord:
    """The class as grade-all found it.

    ``grades``: each graded submission (results, or why none); ``absent``: the roster's students without a
    submission; ``refused``: submission folder -> why it was not graded (a name not on the roster, not a plain
    id); ``admitted``: graded though not on the roster, as the instructor asked; ``times``: student -> their
    submission's time; ``roster``: where the class list came from ("" where there is none); ``times_source``:
    the exchange the times were read from, or why there are none.
    """

    grades: list[Graded]
    absent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    admitted: set[str] = field(default_factory=set)
    times: dict[str, SubmissionTime] = field(default_factory=dict)
    roster: str = ""
    times_source: str = ""

    @property
    def graded(self) -> list[Graded]:
        """The grades that have results: those every statistic is over."""
        return [g for g in self.grades if g.results is not None]

    def status(self, student_id: str) -> str:
        """``GRADED``, ``NOT_GRADED`` or ``NO_SUBMISSION`` for a student on the record."""
        if student_id in self.absent:
            return NO_SUBMISSION
        graded = next((g for g in self.grades if g.student_id == student_id), None)
        return GRADED if graded is not None and graded.results is not None else NOT_GRADED

    @property
    def disagreeing_times(self) -> dict[str, SubmissionTime]:
        """The students whose timestamp.txt disagrees with the recorded time."""
        return {student: time for student, time in sorted(self.times.items()) if time.disagrees}
