"""A student's feedback as one self-contained HTML page: scores per part, each failure's message, their curves."""

import base64
import html
import io

from autograder.reports.report import NOT_CHECKED, format_points, part_points

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.8rem; text-align: left; }
tr.total { font-weight: bold; border-top: 1px solid #888; }
.passed { color: #1a7f37; } .failed { color: #cf222e; } .unchecked { color: #777; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
"""


def render(student_id: str, results: dict | None, parts: list[str], problem: str = "") -> str:
    """The page for ``student_id``, showing only the checks of ``parts`` (titles, in order)."""
    title = f"Feedback for {html.escape(student_id)}"
    if results is None:
        body = f"<p>Your submission could not be graded: {html.escape(problem)}. Please tell your instructor.</p>"
        return page(title, body)
    tests = [t for t in results["tests"] if set(t.get("tags", [])) & set(parts)]
    sections = [score_table(results, parts)]
    curves = results.get("extra_data", {}).get("training_curves")
    if curves and "Part 2: the Iris MLP" in parts:
        sections.append(
            "<h2>Your training curves</h2>"
            f"<p>Your <code>Model</code> trained by your <code>train_mlp</code> with the lecture's recipe; "
            f"test accuracy {curves['test_accuracy']:.3f}.</p>"
            f'<img alt="loss and accuracy per epoch" src="data:image/png;base64,{curves_png(curves)}">'
        )
    sections.append(checks(tests))
    return page(title, "\n".join(sections))


def page(title: str, body: str) -> str:
    """A complete HTML document."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n")


def score_table(results: dict, parts: list[str]) -> str:
    """Points per part and in total, for ``parts``."""
    scores, maxima = part_points(results), part_points(results, "max_score")
    rows = [f"<tr><td>{html.escape(part)}</td><td>{format_points(scores[part])} / {format_points(maxima[part])}</td></tr>"
            for part in parts]
    total, max_total = sum(scores[p] for p in parts), sum(maxima[p] for p in parts)
    rows.append(f'<tr class="total"><td>Total</td><td>{format_points(total)} / {format_points(max_total)}</td></tr>')
    return "<h2>Score</h2><table>" + "".join(rows) + "</table>"


def checks(tests: list[dict]) -> str:
    """Every check, passed or not, with the message of each that failed."""
    items = []
    for test in tests:
        points = f"{format_points(test['score'])} / {format_points(test['max_score'])}"
        if test["score"] == test["max_score"]:
            items.append(f'<li class="passed">✓ {html.escape(test["name"])} ({points})</li>')
        elif test["output"].startswith(NOT_CHECKED):
            items.append(f'<li class="unchecked">– {html.escape(test["name"])}: {html.escape(test["output"])}</li>')
        else:
            items.append(f'<li class="failed">✗ {html.escape(test["name"])} ({points})'
                         f"<pre>{html.escape(test['output'])}</pre></li>")
    return "<h2>Checks</h2><ul>" + "\n".join(items) + "</ul>"


def curves_png(curves: dict) -> str:
    """The loss and training accuracy per epoch, side by side, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: this runs in a terminal or on a server
    import matplotlib.pyplot as plt

    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = range(1, len(curves["loss"]) + 1)
    loss_axes.plot(epochs, curves["loss"])
    loss_axes.set(title="Training loss", xlabel="epoch", ylabel="loss")
    accuracy_axes.plot(epochs, curves["accuracy"])
    accuracy_axes.set(title="Training accuracy", xlabel="epoch", ylabel="accuracy")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
