"""The class report's sections on who and when: submissions not graded, folders refused, submission times.

Every student id and every text a student wrote (a folder's name, a timestamp.txt) is shown
through ``untrusted.shown`` (control characters as their escapes), then HTML-escaped: the page
shows an id as it is, escape sequences and all, and runs nothing of it.
"""

import html

from autograder.reports.class_record import AGREEMENT_SECONDS, ClassRecord
from autograder.reports.untrusted import shown

NAMES_SHOWN = 15  # students named per row before "and N more"


def person(student_id: str) -> str:
    """A student id as HTML: its control characters visible as escapes, its markup escaped."""
    return html.escape(shown(student_id))


def names(students: set[str] | list[str]) -> str:
    """Sorted, comma-separated, at most ``NAMES_SHOWN`` of them and a count of the rest."""
    ordered = sorted(students)
    said = ", ".join(person(s) for s in ordered[:NAMES_SHOWN])
    return said + (f" and {len(ordered) - NAMES_SHOWN} more" if len(ordered) > NAMES_SHOWN else "")


def not_graded(record: ClassRecord) -> str:
    """Each submission without results, and why (empty where every submission was graded)."""
    problems = [g for g in record.grades if g.results is None]
    if not problems:
        return ""
    rows = "".join(f"<tr><td>{person(g.student_id)}</td><td>{html.escape(shown(g.problem))}</td></tr>"
                   for g in problems)
    return ('<h2 id="not-graded">Could not be graded</h2><p>The grader itself failed on these; each got zero in '
            'grades.csv. Grade them again, or look at their grading.log.</p>'
            f'<table><tr><th style="width: 10rem">student</th><th>why</th></tr>{rows}</table>')


def refused(record: ClassRecord) -> str:
    """Each folder of submitted/ that was not graded because of its name, and why (empty where there is none)."""
    if not record.refused:
        return ""
    rows = "".join(f"<tr><td><code>{person(folder)}</code></td><td>{html.escape(why)}</td></tr>"
                   for folder, why in sorted(record.refused.items()))
    return ('<h2 id="refused">Not graded: not a student of the class</h2><p>A folder\'s name in submitted/ is the id '
            "a student gave <code>nbgrader submit</code>, which takes almost any text. These were neither graded nor "
            "written to grades.csv or the gradebook. If one is your student's, add the id to the roster (or pass "
            "<code>--admit-unlisted</code>) and run grade-all again.</p>"
            f'<table class="refused"><tr><th style="width: 18rem">folder</th><th>why</th></tr>{rows}</table>')


def times(record: ClassRecord) -> str:
    """Where the submission times came from, and each submission whose timestamp.txt disagrees with its record."""
    if not record.times:
        return ""
    unrecorded = {s: t for s, t in sorted(record.times.items()) if t.recorded is None}
    if not record.times_source:  # no exchange to read: no time at all
        why = next(iter(unrecorded.values())).unrecorded
        return ('<h2 id="times">Submission times</h2><p class="flag">No submission time was recorded: '
                f"{html.escape(shown(why))}. A submission's timestamp.txt is its student's to rewrite, so no time "
                "was written to grades.csv or the gradebook.</p>")
    parts = ['<h2 id="times">Submission times</h2><p class="muted">Each time is the last change to the submission in '
             f"nbgrader's exchange ({html.escape(shown(record.times_source))}), which the file system records and no "
             "student can set back: the time grades.csv and the gradebook hold. A submission's own timestamp.txt, "
             f"which its student can rewrite, is flagged where it differs by more than {AGREEMENT_SECONDS} s.</p>"]
    flagged = record.disagreeing_times
    if flagged:
        rows = "".join(f'<tr><td>{person(s)}</td><td>{t.said}</td><td class="flag">'
                       f'{html.escape(shown(t.claimed_text)) if t.claimed_text else "missing"}</td></tr>'
                       for s, t in flagged.items())
        parts.append('<table class="times"><tr><th style="width: 10rem">student</th><th>recorded</th>'
                     f"<th>timestamp.txt says</th></tr>{rows}</table>")
    elif len(unrecorded) < len(record.times):
        parts.append("<p>Every recorded time agrees with its timestamp.txt.</p>")
    if unrecorded:
        reasons: dict[str, list[str]] = {}
        for student, time in unrecorded.items():
            reasons.setdefault(time.unrecorded, []).append(student)
        items = "".join(f"<li>{names(students)}: {html.escape(shown(why))}</li>" for why, students in reasons.items())
        parts.append(f'<p class="flag">No recorded time, so none in grades.csv or the gradebook:</p><ul>{items}</ul>')
    return "".join(parts)
