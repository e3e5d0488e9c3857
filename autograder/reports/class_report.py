"""The instructor's view of a graded class as one self-contained HTML page.

From the class's record (every student on the roster, every submission's results.json, the
folders refused, the submission times; see ``class_record``) and the similarity of their graded
code: the score distribution of the graded (overall and per part, as plots), every student's
points with a link to their feedback page (and who submitted nothing), each check's pass rate,
the most common causes of lost points, the submissions that could not be graded, the folders
that are no student of the class, the times that disagree with their timestamp.txt, and the
pairs of submissions that are suspiciously similar. The plots are PNGs embedded in the page, so the page is one file an
instructor can keep or mail (the only links lead to the students' pages beside it); the tables
are sorted as an instructor reads them (students by id, hardest check first, most students
first, most similar pair first), so no script is needed.
"""

import base64
import html
import io
import statistics
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from autograder.contract import PARTS
from autograder.reports.causes import CheckRate, failure_groups, pass_rates, stubs_left
from autograder.reports.class_record import NO_SUBMISSION, ClassRecord
from autograder.reports.class_roster import names, not_graded, person, refused, times
from autograder.reports.report import Graded, format_points, part_points, write_atomically
from autograder.reports.similarity import MAX_ANSWER_CHARS, MIN_SHARED, NOISE, THRESHOLD, NotebookMatch, Similarity

CLASS_REPORT = "class_report.html"
HARDEST_SHOWN = 10  # checks in the "hardest checks" table; the rest are per part, folded
FAILURES_SHOWN = 12  # groups of failures shown; the rest are counted
BINS = 10  # histogram bars over the range of points

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.meta { color: #57606a; margin-top: 0; }
.summary { font-size: 1.1rem; } .summary li { margin: 0.2rem 0; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: 0.5rem 0; }
td, th { padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; border-bottom: 1px solid #eaeef2;
         overflow-wrap: anywhere; }
th { background: #f6f8fa; } td.number, th.number { text-align: right; width: 7rem; }
th.notebook { width: 10rem; overflow-wrap: normal; }
.bar { display: inline-block; height: 0.7rem; background: #2da44e; vertical-align: middle; margin-right: 0.4rem; }
.bar.low { background: #cf222e; }
.flag { color: #cf222e; font-weight: bold; }
img { max-width: 100%; height: auto; }
.parts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.5rem; }
pre { background: #f6f8fa; padding: 0.4rem; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85rem; }
details { margin: 0.3rem 0; } summary { cursor: pointer; }
.muted { color: #57606a; }
"""


def histogram_png(scores: list[float], maximum: float, title: str, size: tuple[float, float]) -> str:
    """A histogram of ``scores`` over [0, ``maximum``] with the median marked, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: this runs in a terminal or on a server
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size)
    top = maximum if maximum > 0 else 1.0
    axes.hist(scores, bins=[top * i / BINS for i in range(BINS + 1)], color="#0969da", edgecolor="white")
    if scores:
        median = statistics.median(scores)
        axes.axvline(median, color="#cf222e", linestyle="--", label=f"median {format_points(median)}")
        axes.legend(loc="upper center", frameon=False)  # the bars crowd the ends: 0 and full marks
    axes.set(title=title, xlabel=f"points (of {format_points(maximum)})", ylabel="students", xlim=(0, top))
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image(png: str, alt: str) -> str:
    """An ``<img>`` of a base64 PNG, with its alt text."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def percent(fraction: float) -> str:
    """``0.425`` -> ``"42%"``."""
    return f"{100 * fraction:.0f}%"


def summary(record: ClassRecord, similarity: Similarity) -> str:
    """The lines an instructor reads first: who, how well, what needs their attention."""
    graded, submitted = record.graded, len(record.grades)
    on_roster = f" of the {submitted + len(record.absent)} on the roster ({html.escape(record.roster)})" if record.roster else ""
    lines = [f"{submitted} submissions{on_roster}, {len(graded)} graded"]
    if record.absent:
        lines.append(f'<a class="flag" href="#students">{len(record.absent)} without a submission</a>: '
                     f"{names(record.absent)} (0 points in grades.csv)")
    if graded:
        maximum = graded[0].results["max_score"]
        totals = [g.results["score"] for g in graded]
        full = sum(total >= maximum for total in totals)
        lines.append(f"median score {format_points(statistics.median(totals))} / {format_points(maximum)}; "
                     f"{full} with full marks")
    if submitted > len(graded):
        lines.append(f'<a class="flag" href="#not-graded">{submitted - len(graded)} could not be graded</a>')
    if record.refused:
        lines.append(f'<a class="flag" href="#refused">{len(record.refused)} folders of submitted/ are not graded: '
                     "no student of the class</a>")
    if record.disagreeing_times:
        lines.append(f'<a class="flag" href="#times">{len(record.disagreeing_times)} timestamp.txt disagree with '
                     "the recorded time</a>")
    flagged = len(similarity.flagged)
    said = "1 pair of submissions is" if flagged == 1 else f"{flagged} pairs of submissions are"
    lines.append(f'<a class="{"flag" if flagged else ""}" href="#similar">{said} suspiciously similar</a>')
    return '<ul class="summary">' + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def distribution(record: ClassRecord) -> str:
    """The overall histogram, then one per part, two to a row: of the graded submissions only."""
    graded = record.graded
    if not graded:
        return "<h2>Scores</h2><p>No submission could be graded.</p>"
    maximum = graded[0].results["max_score"]
    overall = image(histogram_png([g.results["score"] for g in graded], maximum, "Total score", (9, 2.8)),
                    "score distribution: total")
    maxima = part_points(graded[0].results, "max_score")
    parts = [image(histogram_png([part_points(g.results)[part] for g in graded], maxima[part], part, (4.6, 2.4)),
                   f"score distribution: {part}") for part in PARTS]
    left_out = len(record.grades) - len(graded) + len(record.absent)
    who = "student" if left_out == 1 else "students"
    note = "" if not left_out else (f'<p class="muted">Over the {len(graded)} graded submissions; the {left_out} '
                                    f"{who} without a submission or a grade are not counted.</p>")
    return f'<h2>Scores</h2>{note}{overall}<div class="parts">{"".join(parts)}</div>'


def similar(similarity: Similarity) -> str:
    """The flagged pairs, most similar first, with each notebook's figure; what was not compared."""
    flagged = similarity.flagged
    method = (f"The code the grader loads and grades (each graded function's definitions and what they use, "
              f"wherever in the notebook they are) compared pairwise, notebook by notebook, with copydetect's "
              f"fingerprints (names, comments and layout ignored; matches under {NOISE} characters of normalized "
              f"code ignored; the released starter code, and code much of the class writes alike, excluded). "
              f"Flagged: {percent(THRESHOLD)} or more of two students' graded code in some notebook in common, over "
              f"at least {MIN_SHARED} characters. A flag is a reason to read both notebooks, not a verdict.")
    parts = [f'<h2 id="similar">Similar submissions</h2><p class="muted">{method}</p>']
    if flagged:
        notebooks = sorted({n for pair in flagged for n in pair.by_notebook})
        # Long notebook names may break after an underscore, not inside a word.
        header = "".join(f'<th class="number notebook">{html.escape(Path(n).stem).replace("_", "_<wbr>")}</th>'
                         for n in notebooks)
        rows = []
        for pair in flagged:
            cells = "".join(
                f'<td class="number">{cell(pair.by_notebook.get(n))}</td>' for n in notebooks)
            rows.append(f'<tr><td>{person(pair.first)} and {person(pair.second)}</td>'
                        f'<td class="number">{percent(pair.similarity)}</td>{cells}</tr>')
        parts.append(f'<table class="similar"><tr><th>students</th><th class="number">highest</th>{header}</tr>'
                     f'{"".join(rows)}</table>')
    else:
        parts.append("<p>No pair of submissions is similar enough to flag.</p>")
    unflagged = [pair for pair in similarity.pairs if not pair.flagged]
    if unflagged:
        closest = unflagged[0]
        parts.append(f"<p class=\"muted\">{len(similarity.pairs)} pairs compared; the most similar pair not flagged: "
                     f"{person(closest.first)} and {person(closest.second)}, {percent(closest.similarity)}.</p>")
    for student, notebooks in sorted(similarity.unreadable.items()):
        parts.append(f"<p class=\"muted\">Not compared: {person(student)}'s {html.escape(', '.join(notebooks))} "
                     "(not a readable notebook).</p>")
    for student, notebooks in sorted(similarity.too_large.items()):
        parts.append(f"<p class=\"muted\">Not compared: {person(student)}'s {html.escape(', '.join(notebooks))} "
                     f"(more than {MAX_ANSWER_CHARS // 1024} kB of graded code; read it yourself).</p>")
    return "".join(parts)


def cell(match: NotebookMatch | None) -> str:
    """One notebook's figure in the similarity table: its share, flagged in red where over the threshold."""
    if match is None or match.shared == 0:
        return '<span class="muted">–</span>'
    text = percent(match.similarity)
    return f'<span class="flag">{text}</span>' if match.similarity >= THRESHOLD and match.shared >= MIN_SHARED else text


def rate_row(rate: CheckRate, with_part: bool) -> str:
    """One check's row: (its part,) its name, a bar as long as its pass rate (red under half), passed / graded."""
    width = max(1, round(60 * rate.rate))
    bar = f'<span class="bar{" low" if rate.rate < 0.5 else ""}" style="width: {width}px"></span>'
    part = f"<td>{html.escape(rate.part)}</td>" if with_part else ""
    return (f"<tr>{part}<td>{html.escape(rate.name)}</td>"
            f'<td class="number">{bar}{rate.passed} / {rate.graded}</td></tr>')


def checks(grades: list[Graded]) -> str:
    """The hardest checks, then every check part by part (folded), each with its pass rate."""
    rates = pass_rates(grades)
    if not rates:
        return ""
    hardest = sorted(rates, key=lambda r: (r.rate, r.name))[:HARDEST_SHOWN]
    parts = ['<h2 id="checks">Checks</h2><p>The checks the fewest graded submissions passed:</p>'
             '<table class="rates"><tr><th style="width: 13rem">part</th><th>check</th>'
             '<th class="number" style="width: 9rem">passed</th></tr>'
             + "".join(rate_row(r, with_part=True) for r in hardest) + "</table>"]
    for part in PARTS:
        in_part = sorted((r for r in rates if r.part == part), key=lambda r: (r.rate, r.name))
        if not in_part:
            continue
        mean = sum(r.rate for r in in_part) / len(in_part)
        parts.append(f"<details><summary>{html.escape(part)}: {len(in_part)} checks, passed on average by "
                     f"{percent(mean)}</summary><table><tr><th>check</th>"
                     f'<th class="number" style="width: 9rem">passed</th></tr>'
                     + "".join(rate_row(r, with_part=False) for r in in_part) + "</table></details>")
    return "".join(parts)


def stubs(grades: list[Graded]) -> str:
    """Which functions were left unwritten, by how many students: one row each, not one per check."""
    left = stubs_left(grades)
    if not left:
        return ""
    rows = "".join(f'<tr><td><code>{html.escape(name)}</code></td><td class="number">{len(students)}</td>'
                   f"<td>{names(students)}</td></tr>"
                   for name, students in sorted(left.items(), key=lambda item: (-len(item[1]), item[0])))
    return ('<h2 id="stubs">Left unwritten</h2><p class="muted">Functions whose stub was handed in untouched '
            "(not counted again among the most common failures), and the functions that only failed because they "
            "called one: one row for each stub, however many checks it cost.</p>"
            '<table class="stubs"><tr><th>function</th><th class="number">students</th>'
            f'<th style="width: 24rem">who</th></tr>{rows}</table>')


def failures(grades: list[Graded]) -> str:
    """The most common causes of lost points, by graded function: how many students, who, which checks it cost."""
    groups = failure_groups(grades)
    if not groups:
        return ""
    rows = []
    for group in groups[:FAILURES_SHOWN]:
        checks_list = "".join(f"<li>{html.escape(c)}</li>" for c in sorted(group.checks))
        others = len(group.variants) - 1
        variants = f'<p class="muted">and {others} more with other numbers</p>' if others else ""
        rows.append(f'<tr><td><code>{html.escape(group.function)}</code></td>'
                    f'<td><pre>{html.escape(group.message)}</pre>{variants}'
                    f"<details><summary>costs {len(group.checks)} check{'s' if len(group.checks) != 1 else ''}"
                    f"</summary><ul>{checks_list}</ul></details></td>"
                    f'<td class="number">{len(group.students)}</td><td>{names(group.students)}</td></tr>')
    rest = len(groups) - FAILURES_SHOWN
    more = f'<p class="muted">and {rest} less common causes.</p>' if rest > 0 else ""
    return ('<h2 id="failures">Most common failures</h2><p class="muted">Causes, not checks: for each student and '
            "function, the first check it failed, as their feedback shows it first; one mistake is one cause, "
            "however many checks it costs. A function that fails because one it uses is wrong shares that "
            "function's cause, and a message every function of a notebook fails with (a notebook that cannot be "
            "read, or is missing) is one cause of that notebook. Messages that differ only in numbers or in "
            "hypothesis's example count as one.</p>"
            '<table class="failures"><tr><th style="width: 10rem">function</th><th>cause</th>'
            '<th class="number">students</th>'
            f'<th style="width: 14rem">who</th></tr>{"".join(rows)}</table>{more}')


def students(record: ClassRecord, similarity: Similarity) -> str:
    """Every student, by id: the total, each part, a link to their feedback page, and what to look into; those on
    the roster without a submission too."""
    similar_to: dict[str, set[str]] = {}
    for pair in similarity.flagged:
        similar_to.setdefault(pair.first, set()).add(pair.second)
        similar_to.setdefault(pair.second, set()).add(pair.first)
    header = "".join(f'<th class="number">{html.escape(part.split(": ", 1)[-1])}</th>' for part in PARTS)
    dashes = '<td class="number">–</td>' * (len(PARTS) + 1)
    rows = []
    for graded in record.grades:
        link = f'<a href="{html.escape(quote(graded.student_id, errors="surrogateescape"))}/feedback.html">'
        if graded.results is None:
            cells, flags = dashes, ['<span class="flag">could not be graded</span>']
        else:
            points = part_points(graded.results)
            cells = f'<td class="number">{format_points(graded.results["score"])}</td>' + "".join(
                f'<td class="number">{format_points(points[part])}</td>' for part in PARTS)
            flags = []
        if graded.student_id in record.admitted:
            flags.append('<span class="flag">not on the roster (admitted)</span>')
        if graded.student_id in record.disagreeing_times:
            flags.append('<a class="flag" href="#times">timestamp.txt disagrees</a>')
        if graded.student_id in similar_to:
            flags.append(f'<span class="flag">similar to {names(similar_to[graded.student_id])}</span>')
        rows.append((graded.student_id, f"<tr><td>{link}{person(graded.student_id)}</a></td>{cells}"
                                        f"<td>{' '.join(flags)}</td></tr>"))
    rows += [(student, f'<tr class="absent"><td>{person(student)}</td>{dashes}'
                       f'<td><span class="flag">{NO_SUBMISSION}</span> (0 in grades.csv)</td></tr>')
             for student in record.absent]
    return ('<h2 id="students">Students</h2><p class="muted">By id; each id opens that student\'s feedback page.</p>'
            '<table class="students"><tr><th>student</th><th class="number">total</th>'
            f'{header}<th style="width: 12rem">look into</th></tr>{"".join(row for _, row in sorted(rows))}</table>')


def render(record: ClassRecord, similarity: Similarity, assignment: str, when: datetime) -> str:
    """The whole page for a class's ``record`` and the ``similarity`` of their submissions."""
    title = f"Class report: {html.escape(assignment)}"
    grades = record.grades
    on_roster = f" of {len(grades) + len(record.absent)} students on the roster" if record.roster else ""
    meta = f'<p class="meta">Graded {when:%Y-%m-%d %H:%M}; {len(grades)} submissions{on_roster}.</p>'
    # The summary and the total's plot come first, on the first screen; who was not graded, and why, after the table
    # of students.
    body = "".join([summary(record, similarity), not_graded(record), distribution(record),
                    students(record, similarity), refused(record), times(record), similar(similarity), checks(grades),
                    failures(grades), stubs(grades)])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head>\n<body><h1>{title}</h1>{meta}\n{body}\n</body></html>\n")


def write(path: Path, record: ClassRecord, similarity: Similarity, assignment: str, when: datetime) -> None:
    """Write the page for ``record`` to ``path``, atomically."""
    write_atomically(path, render(record, similarity, assignment, when))
