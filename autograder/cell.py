"""What each part's locked grade cell runs: that part's checks on the notebook as last saved.

The cell is an nbgrader autograder cell worth the part's points. It prints the part's checks
and leaves the part's score as the cell's value, which nbgrader takes as partial credit; it
writes nothing to stderr, which nbgrader would count as a failure.
"""

import json
import subprocess
import tempfile
from pathlib import Path

from autograder.contract import PARTS
from autograder.boundary.messages import STUB_MESSAGE
from autograder.instructor.launch import COMPLETED, grader_command
from autograder.reports.report import NOT_CHECKED, format_points


def grade_part(title: str, folder: Path | None = None) -> float:
    """Grade one part of the notebooks in ``folder`` (default: the working directory); return its score.

    The checks run in a new process on the saved notebook file, not on this kernel's state:
    save the notebook before running the cell.
    """
    part = PARTS[title]
    folder = Path.cwd() if folder is None else Path(folder)
    if not (folder / part.notebook).is_file():
        print(f"{title}: 0 points. There is no {part.notebook} in {folder}: "
              "this cell grades the notebook file saved beside it.")
        return 0.0
    with tempfile.TemporaryDirectory() as scratch:
        results_path = Path(scratch) / "results.json"
        completed = subprocess.run(grader_command(folder, results_path, "--part", title, "-q"),
                                   capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if completed.returncode not in COMPLETED or not results_path.is_file():
            print(f"{title}: the autograder could not run (exit code {completed.returncode}); "
                  f"please tell your instructor. Its last words:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
            return 0.0
        results = json.loads(results_path.read_text())
    print(part_summary(title, results))
    return results["score"]


def part_summary(title: str, results: dict) -> str:
    """The part's score, then each failed check with its message, indented."""
    tests = results["tests"]
    unchecked = sum(t["max_score"] for t in tests if t["output"].startswith(NOT_CHECKED))
    lines = [f"{title}: {format_points(results['score'])} / {format_points(results['max_score'])}"
             + (f" ({format_points(unchecked)} not checked here: they run when your instructor grades)"
                if unchecked else "")]
    stubs = []
    for test in tests:
        output = test["output"]
        if test["score"] == test["max_score"] or output.startswith(NOT_CHECKED):
            continue
        if STUB_MESSAGE in output and output not in stubs:
            stubs.append(output)
        elif STUB_MESSAGE not in output:
            message = "\n".join("      " + line for line in output.splitlines())
            lines.append(f"  ✗ {test['name']}\n{message}")
    return "\n".join(lines + [f"  ✗ {stub}" for stub in stubs])
