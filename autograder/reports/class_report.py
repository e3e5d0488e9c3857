"""The instructor's view of a graded class as one self-contained HTML page.

From every student's results.json and the similarity of their answer cells: the score
distribution (overall and per part, as plots), every student's points with a link to their
feedback page, each check's pass rate, the most common causes of lost points by graded
function, the submissions that could not be graded, and the pairs of submissions that are
suspiciously similar. The plots are PNGs embedded in the page, so the page is one file an
instructor can keep or mail (the only links lead to the students' pages beside it); the tables
are sorted as an instructor reads them (students by id, hardest check first, most students
first, most similar pair first), so no script is needed.
"""

import base64
import html
import io
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from autograder.contract import PARTS
from autograder.reports.report import STUB, UNCHECKED, Graded, format_points, part_points, state, write_atomically
from autograder.reports.similarity import MAX_ANSWER_CHARS, MIN_SHARED, NOISE, THRESHOLD, NotebookMatch, Similarity

CLASS_REPORT = "class_report.html"
HARDEST_SHOWN = 10  # checks in the "hardest checks" table; the rest are per part, folded
FAILURES_SHOWN = 12  # groups of failures shown; the rest are counted
NAMES_SHOWN = 15  # students named per row before "and N more"
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


@dataclass
class FailureGroup:
    """One cause of lost points in one graded function, shared by several students: the message of the first check
    of that function each of them failed, the same once numbers and hypothesis's examples are set aside."""

    function: str  # the graded name: sgd_step, Model, tanh
    message: str  # the first such message, without its example
    students: set[str] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)  # the names of every check of the function they failed
    variants: set[str] = field(default_factory=set)  # the messages as written, examples aside


def message_key(output: str) -> str:
    """What a failure's message says, whatever its numbers: hypothesis's example dropped, numbers as ``#``.

    ``"... cell 8 ..."`` and ``"... cell 14 ..."``, ``[0.0, nan]`` and ``[0.0, 0.0, nan]``, or two
    shrunk examples, give the same key.
    """
    text = re.sub(r"-?(\d+(\.\d*)?(e[-+]?\d+)?|\bnan\b|\binf\b)", "#", strip_example(output))
    text = re.sub(r"#(\s*,\s*#)+", "#", text)  # a list of numbers, however long
    return re.sub(r"\s+", " ", text).strip()


def strip_example(output: str) -> str:
    """``output`` without hypothesis's example: its "Failing test case: ...(...)" block and "Draw n: ..." lines."""
    text = re.sub(r"\n?(Failing test case|Falsifying example):.*?\n\)(\n|$)", "\n", output, flags=re.S)
    return re.sub(r"^Draw \d+: .*$\n?", "", text, flags=re.M).strip()


def stub_name(test: dict) -> str | None:
    """The untouched stub that failed a check (``softmax``, ``Model.__init__``), where the grader found one; else None."""
    return test.get("extra_data", {}).get("stub") if state(test) == STUB else None


def graded_ones(grades: list[Graded]) -> list[Graded]:
    """The grades that have results."""
    return [g for g in grades if g.results is not None]


def failed_tests(graded: Graded) -> list[dict]:
    """The checks ``graded`` failed (not those that were not checked)."""
    return [test for test in graded.results["tests"] if test["score"] < test["max_score"] and state(test) != UNCHECKED]


def stubs_left(grades: list[Graded]) -> dict[str, set[str]]:
    """Graded name -> the students who left its stub untouched."""
    left: dict[str, set[str]] = {}
    for graded in graded_ones(grades):
        for test in failed_tests(graded):
            name = stub_name(test)
            if name is not None:
                left.setdefault(name, set()).add(graded.student_id)
    return left


def failure_groups(grades: list[Graded]) -> list[FailureGroup]:
    """The causes of lost points, most students first: for each student and graded function, the first failed
    check's message (as a student's feedback shows it first), grouped by function and ``message_key``. One
    mistake that fails eight checks of a function is one cause; an untouched stub is none (see ``stubs``)."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for graded in graded_ones(grades):
        by_function: dict[str, list[dict]] = {}
        for test in failed_tests(graded):
            if stub_name(test) is None:
                by_function.setdefault(test.get("extra_data", {}).get("checks", ""), []).append(test)
        for function, tests in by_function.items():
            first = tests[0]["output"]
            group = groups.setdefault((function, message_key(first)), FailureGroup(function, strip_example(first)))
            group.students.add(graded.student_id)
            group.checks.update(test["name"] for test in tests)
            group.variants.add(strip_example(first))
    return sorted(groups.values(), key=lambda g: (-len(g.students), -len(g.checks), g.function, g.message))


@dataclass
class CheckRate:
    """How many graded submissions passed one check."""

    name: str
    part: str
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        """The share of graded submissions that passed, in [0, 1]."""
        return self.passed / self.graded if self.graded else 0.0


def pass_rates(grades: list[Graded]) -> list[CheckRate]:
    """Each check's pass rate over the graded submissions, in the order the checks ran."""
    rates: dict[str, CheckRate] = {}
    for graded in graded_ones(grades):
        for test in graded.results["tests"]:
            part = next((tag for tag in test.get("tags", []) if tag in PARTS), "")
            rate = rates.setdefault(test["test"], CheckRate(test["name"], part, 0, 0))
            rate.graded += 1
            rate.passed += test["score"] >= test["max_score"]
    return list(rates.values())


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


def names(students: set[str] | list[str]) -> str:
    """Sorted, comma-separated, at most ``NAMES_SHOWN`` of them and a count of the rest."""
    ordered = sorted(students)
    shown = ", ".join(html.escape(s) for s in ordered[:NAMES_SHOWN])
    return shown + (f" and {len(ordered) - NAMES_SHOWN} more" if len(ordered) > NAMES_SHOWN else "")


def percent(fraction: float) -> str:
    """``0.425`` -> ``"42%"``."""
    return f"{100 * fraction:.0f}%"


def summary(grades: list[Graded], similarity: Similarity) -> str:
    """The lines an instructor reads first: how many, how well, what needs their attention."""
    graded = graded_ones(grades)
    lines = [f"{len(grades)} submissions, {len(graded)} graded"]
    if graded:
        maximum = graded[0].results["max_score"]
        totals = [g.results["score"] for g in graded]
        full = sum(total >= maximum for total in totals)
        lines.append(f"median score {format_points(statistics.median(totals))} / {format_points(maximum)}; "
                     f"{full} with full marks")
    not_graded = len(grades) - len(graded)
    if not_graded:
        lines.append(f'<a class="flag" href="#not-graded">{not_graded} could not be graded</a>')
    flagged = len(similarity.flagged)
    said = "1 pair of submissions is" if flagged == 1 else f"{flagged} pairs of submissions are"
    lines.append(f'<a class="{"flag" if flagged else ""}" href="#similar">{said} suspiciously similar</a>')
    return '<ul class="summary">' + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def distribution(grades: list[Graded]) -> str:
    """The overall histogram, then one per part, two to a row."""
    graded = graded_ones(grades)
    if not graded:
        return "<h2>Scores</h2><p>No submission could be graded.</p>"
    maximum = graded[0].results["max_score"]
    overall = image(histogram_png([g.results["score"] for g in graded], maximum, "Total score", (9, 2.8)),
                    "score distribution: total")
    maxima = part_points(graded[0].results, "max_score")
    parts = [image(histogram_png([part_points(g.results)[part] for g in graded], maxima[part], part, (4.6, 2.4)),
                   f"score distribution: {part}") for part in PARTS]
    note = "" if len(graded) == len(grades) else (
        f'<p class="muted">Over the {len(graded)} graded submissions; those that could not be graded are not counted.</p>')
    return f'<h2>Scores</h2>{note}{overall}<div class="parts">{"".join(parts)}</div>'


def not_graded(grades: list[Graded]) -> str:
    """Each submission without results, and why (empty where every submission was graded)."""
    problems = [g for g in grades if g.results is None]
    if not problems:
        return ""
    rows = "".join(f"<tr><td>{html.escape(g.student_id)}</td><td>{html.escape(g.problem)}</td></tr>" for g in problems)
    return ('<h2 id="not-graded">Could not be graded</h2><p>The grader itself failed on these; each got zero in '
            'grades.csv. Grade them again, or look at their grading.log.</p>'
            f'<table><tr><th style="width: 10rem">student</th><th>why</th></tr>{rows}</table>')


def similar(similarity: Similarity) -> str:
    """The flagged pairs, most similar first, with each notebook's figure; what was not compared."""
    flagged = similarity.flagged
    method = (f"Answer cells compared pairwise, notebook by notebook, with copydetect's fingerprints (names, "
              f"comments and layout ignored; matches under {NOISE} characters of normalized code ignored; the "
              f"released starter code excluded). Flagged: {percent(THRESHOLD)} or more of two students' answer "
              f"code in some notebook in common, over at least {MIN_SHARED} characters. A flag is a reason to "
              "read both notebooks, not a verdict.")
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
            rows.append(f'<tr><td>{html.escape(pair.first)} and {html.escape(pair.second)}</td>'
                        f'<td class="number">{percent(pair.similarity)}</td>{cells}</tr>')
        parts.append(f'<table class="similar"><tr><th>students</th><th class="number">highest</th>{header}</tr>'
                     f'{"".join(rows)}</table>')
    else:
        parts.append("<p>No pair of submissions is similar enough to flag.</p>")
    unflagged = [pair for pair in similarity.pairs if not pair.flagged]
    if unflagged:
        closest = unflagged[0]
        parts.append(f"<p class=\"muted\">{len(similarity.pairs)} pairs compared; the most similar pair not flagged: "
                     f"{html.escape(closest.first)} and {html.escape(closest.second)}, {percent(closest.similarity)}.</p>")
    for student, notebooks in sorted(similarity.unreadable.items()):
        parts.append(f"<p class=\"muted\">Not compared: {html.escape(student)}'s {html.escape(', '.join(notebooks))} "
                     "(not a readable notebook).</p>")
    for student, notebooks in sorted(similarity.too_large.items()):
        parts.append(f"<p class=\"muted\">Not compared: {html.escape(student)}'s {html.escape(', '.join(notebooks))} "
                     f"(more than {MAX_ANSWER_CHARS // 1024} kB of answer code; read it yourself).</p>")
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
            "(not counted again among the most common failures).</p>"
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
    return ('<h2 id="failures">Most common failures</h2><p class="muted">For each student and function, the first '
            "check it failed, as their feedback shows it first: one mistake is one cause, however many checks it "
            "costs. Messages that differ only in numbers or in hypothesis's example count as one.</p>"
            '<table class="failures"><tr><th style="width: 9rem">function</th><th>cause</th>'
            '<th class="number">students</th>'
            f'<th style="width: 14rem">who</th></tr>{"".join(rows)}</table>{more}')


def students(grades: list[Graded], similarity: Similarity) -> str:
    """Every student, by id: the total, each part, a link to their feedback page, and what to look into."""
    similar_to: dict[str, set[str]] = {}
    for pair in similarity.flagged:
        similar_to.setdefault(pair.first, set()).add(pair.second)
        similar_to.setdefault(pair.second, set()).add(pair.first)
    header = "".join(f'<th class="number">{html.escape(part.split(": ", 1)[-1])}</th>' for part in PARTS)
    rows = []
    for graded in sorted(grades, key=lambda g: g.student_id):
        student = html.escape(graded.student_id)
        link = f'<a href="{html.escape(quote(graded.student_id))}/feedback.html">{student}</a>'
        if graded.results is None:
            cells = '<td class="number">–</td>' * (len(PARTS) + 1)
            flags = ['<span class="flag">could not be graded</span>']
        else:
            points = part_points(graded.results)
            cells = f'<td class="number">{format_points(graded.results["score"])}</td>' + "".join(
                f'<td class="number">{format_points(points[part])}</td>' for part in PARTS)
            flags = []
        if graded.student_id in similar_to:
            flags.append(f'<span class="flag">similar to {names(similar_to[graded.student_id])}</span>')
        rows.append(f"<tr><td>{link}</td>{cells}<td>{' '.join(flags)}</td></tr>")
    return ('<h2 id="students">Students</h2><p class="muted">By id; each id opens that student\'s feedback page.</p>'
            '<table class="students"><tr><th>student</th><th class="number">total</th>'
            f'{header}<th style="width: 12rem">look into</th></tr>{"".join(rows)}</table>')


def render(grades: list[Graded], similarity: Similarity, assignment: str, when: datetime) -> str:
    """The whole page for a class's ``grades`` and the ``similarity`` of their submissions."""
    title = f"Class report: {html.escape(assignment)}"
    meta = f'<p class="meta">Graded {when:%Y-%m-%d %H:%M}; {len(grades)} submissions.</p>'
    body = "".join([summary(grades, similarity), not_graded(grades), distribution(grades),
                    students(grades, similarity), similar(similarity), checks(grades), failures(grades), stubs(grades)])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head>\n<body><h1>{title}</h1>{meta}\n{body}\n</body></html>\n")


def write(path: Path, grades: list[Graded], similarity: Similarity, assignment: str, when: datetime) -> None:
    """Write the page for ``grades`` to ``path``, atomically."""
    write_atomically(path, render(grades, similarity, assignment, when))
