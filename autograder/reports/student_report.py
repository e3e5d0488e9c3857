"""A student's feedback as one self-contained HTML page: the score first, then each part by graded function.

The page says who, what and when at the top, then the score per part and what to fix first;
then one section per part, grouped as ``feedback.group`` groups them: a function whose checks
all passed is one line (the checks on demand, in ``<details>``), a function that is not
implemented, or whose notebook cannot be read, is one line, and of a function's failures the
first is shown in full and the rest on demand. The student's training curves sit in their part.
"""

import base64
import html
import io
import re
from datetime import datetime

from autograder.contract import ASSIGNMENT_ID
from autograder.reports.feedback import Failure, FunctionFeedback, PartFeedback, check_label, group, points
from autograder.reports.report import format_points

# The part whose section shows the student's training curves.
CURVES_PART = "Part 2: the Iris MLP"
MAX_NEXT = 6  # graded names listed under the score as points to win back; the rest are counted
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 56rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
.total { font-size: 1.6rem; font-weight: bold; margin: 0.6rem 0; }
table { border-collapse: collapse; } td { padding: 0.15rem 0.8rem 0.15rem 0; }
td.points { text-align: right; font-variant-numeric: tabular-nums; }
section.part { border-top: 1px solid #ccc; margin-top: 1.2rem; }
h2 { font-size: 1.2rem; } h2 .points { color: #555; font-weight: normal; }
.function { margin: 0.5rem 0 0.5rem 0.5rem; }
.passed { color: #1a7f37; } .failed { color: #cf222e; } .unchecked { color: #777; }
.function > .head { font-weight: bold; } .function > .head .points { font-weight: normal; color: #555; }
.cause { color: #222; font-weight: normal; }
pre { background: #f6f8fa; padding: 0.5rem; margin: 0.3rem 0 0.3rem 1.2rem; white-space: pre-wrap; overflow-wrap: anywhere; }
details { margin-left: 1.2rem; } summary { cursor: pointer; color: #555; } details.function > summary > div { display: inline; }
ul { margin: 0.2rem 0; } code { background: #f0f0f0; padding: 0 0.2rem; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
"""


def render(student_id: str, results: dict | None, parts: list[str], problem: str = "") -> str:
    """The page for ``student_id``, showing only ``parts`` (titles, in order)."""
    grading = (results or {}).get("extra_data", {}).get("grading", {})
    assignment = grading.get("assignment", ASSIGNMENT_ID)
    title = f"{assignment}: feedback for {student_id}"
    header = (f"<h1>Feedback on {html.escape(assignment)}</h1>"
              f'<p class="meta">{meta_line(student_id, grading)}</p>')
    if results is None:
        body = (f'<p class="failed">Your submission could not be graded: {html.escape(problem)}. '
                "Please tell your instructor.</p>")
        return page(title, header + body)
    grouped = group(results, parts)
    sections = [score_section(grouped)]
    curves = results.get("extra_data", {}).get("training_curves")
    sections += [part_section(index, part, curves if part.title == CURVES_PART else None)
                 for index, part in enumerate(grouped)]
    return page(title, header + "\n".join(sections))


def meta_line(student_id: str, grading: dict) -> str:
    """``Student alice · graded 27 Nov 2026, 10:49 UTC · grader pytorch-nn-assignment 0.1.0 (3f2a…)``."""
    facts = [f"Student <b>{html.escape(student_id)}</b>"]
    if "graded_at" in grading:
        when = datetime.fromisoformat(grading["graded_at"])
        facts.append(f"graded {when:%d %b %Y, %H:%M} {when.tzname() or ''}".rstrip())
    if "grader" in grading:
        facts.append(f"grader {html.escape(grading['grader'])}")
    return " · ".join(facts)


def page(title: str, body: str) -> str:
    """A complete HTML document."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>{body}\n</body></html>\n")


def part_id(index: int) -> str:
    """The anchor of the part at ``index``."""
    return f"part-{index + 1}"


def score_section(grouped: list[PartFeedback]) -> str:
    """The total, the points per part (each a link to its section), and where points were lost."""
    total, max_total = sum(p.score for p in grouped), sum(p.max_score for p in grouped)
    rows = []
    for index, part in enumerate(grouped):
        mark = "passed" if part.score >= part.max_score else "failed"
        unchecked = f' <span class="unchecked">({format_points(part.unchecked_points)} not checked here)</span>' \
            if part.unchecked_points else ""
        rows.append(f'<tr><td><a href="#{part_id(index)}">{html.escape(part.title)}</a></td>'
                    f'<td class="points {mark}">{points(part.score, part.max_score)}</td><td>{unchecked}</td></tr>')
    lost = [f for part in grouped for f in part.functions if f.failures]
    if lost:
        names = ", ".join(f"<code>{html.escape(f.name)}</code> ({format_points(sum(x.lost for x in f.failures))})"
                          for f in lost[:MAX_NEXT])
        more = f" and {len(lost) - MAX_NEXT} more" if len(lost) > MAX_NEXT else ""
        next_step = f"<p>Points to win back, in the order of the notebooks: {names}{more}.</p>"
    else:
        next_step = '<p class="passed">Every check that ran here passed.</p>'
    return (f'<section class="score"><p class="total">{points(total, max_total)} points</p>'
            f"<table>{''.join(rows)}</table>{next_step}</section>")


def part_section(index: int, part: PartFeedback, curves: dict | None) -> str:
    """The part at ``index``: its points, its graded names, and the training curves where given."""
    heading = (f'<h2 id="{part_id(index)}">{html.escape(part.title)} '
               f'<span class="points">{points(part.score, part.max_score)}</span></h2>')
    common = part.common_failure
    if common is not None:
        names = ", ".join(f"<code>{html.escape(f.name)}</code>" for f in part.functions)
        body = (f'<p class="failed">✗ <span class="cause">{inline(common)}</span></p>'
                f'<p class="unchecked">This costs every check of {names}.</p>')
    else:
        body = "".join(function_block(function) for function in part.functions)
    if curves:
        body += curves_block(curves)
    return f'<section class="part">{heading}{body}</section>'


def function_block(function: FunctionFeedback) -> str:
    """One graded name: a line with its points, then its failures."""
    state = "failed" if function.failures else "passed"
    mark = "✗" if function.failures else "✓"
    head = (f'<div class="head {state}">{mark} <code>{html.escape(function.name)}</code> '
            f'<span class="points">{points(function.score, function.max_score)}</span>')
    if function.one_line:
        return f'<div class="function">{head} — <span class="cause">{inline(function.cause)}</span></div></div>'
    if not function.failures:
        # All passed: one line, the checks on demand.
        return (f'<details class="function"><summary>{head} — {checks_passed(function)}</div></summary>'
                f"{check_list(function.passed)}{unchecked_block(function)}</details>")
    parts = [head + "</div>"]
    if function.failures:
        first, *others = function.failures
        parts.append(failure_block(first))
        if others:
            count = sum(len(f.checks) for f in others)
            parts.append(f"<details><summary>{count} more failed check{'s' if count != 1 else ''}</summary>"
                         + "".join(failure_block(f) for f in others) + "</details>")
    if function.passed:
        parts.append(f'<details><summary class="passed">✓ {checks_passed(function)}</summary>'
                     f"{check_list(function.passed)}</details>")
    parts.append(unchecked_block(function))
    return f'<div class="function">{"".join(parts)}</div>'


def checks_passed(function: FunctionFeedback) -> str:
    """``3 checks passed``."""
    return f"{len(function.passed)} check{'s' if len(function.passed) != 1 else ''} passed"


def check_list(names: list[str]) -> str:
    """Check names as a list."""
    return "<ul>" + "".join(f"<li>{html.escape(name)}</li>" for name in names) + "</ul>"


def unchecked_block(function: FunctionFeedback) -> str:
    """The function's checks that run only where the reference is, folded; nothing if none."""
    if not function.unchecked:
        return ""
    return (f'<details><summary class="unchecked">– {len(function.unchecked)} not checked here '
            f"(they run when your instructor grades)</summary>{check_list(function.unchecked)}</details>")


def failure_block(failure: Failure) -> str:
    """The checks that failed with one message, and the message."""
    checks = "".join(f'<div class="failed">✗ {html.escape(check_label(test))}</div>' for test in failure.checks)
    return f"<div>{checks}<pre>{html.escape(failure.message)}</pre></div>"


def inline(message: str) -> str:
    """A message as HTML, with its `code` spans as <code> and its lines kept."""
    escaped = html.escape(message)
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped).replace("\n", "<br>")


def curves_block(curves: dict) -> str:
    """The student's loss and accuracy per epoch, and the test accuracy the grader computed.

    The curves are what the student's ``train_mlp`` returned: where they cannot be drawn
    (values that overflow the plot's range), the page says so instead of failing.
    """
    accuracy = curves.get("test_accuracy")
    shown = f"{accuracy:.3f}" if isinstance(accuracy, (int, float)) else "not a number"
    try:
        image = f'<img alt="loss and accuracy per epoch" src="data:image/png;base64,{curves_png(curves)}">'
    except (ValueError, OverflowError, TypeError, KeyError):
        image = "<p>Your curves could not be drawn: the values your <code>train_mlp</code> returned are out of range.</p>"
    return ("<h3>Your training curves</h3>"
            f"<p>Your <code>Model</code> trained by your <code>train_mlp</code> with the lecture's recipe; "
            f"test accuracy <b>{shown}</b> (computed by the grader from your trained weights).</p>" + image)


def curves_png(curves: dict) -> str:
    """The loss and training accuracy per epoch, side by side, as a base64 PNG."""
    from matplotlib.figure import Figure

    # A figure of its own, not pyplot's (grade-all draws pages in several threads), with fixed margins: laying it out
    # to fit (tight_layout) took a third of a page's 0.2 s.
    figure = Figure(figsize=(10, 3.5))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
    epochs = range(1, len(curves["loss"]) + 1)
    loss_axes.plot(epochs, curves["loss"])
    loss_axes.set(title="Training loss", xlabel="epoch", ylabel="loss")
    accuracy_axes.plot(epochs, curves["accuracy"])
    accuracy_axes.set(title="Training accuracy", xlabel="epoch", ylabel="accuracy")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
