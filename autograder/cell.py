"""What each part's locked check cell runs: that part's checks on the notebook as last saved, as feedback.

The cell prints the part's points as the checks give them, and its failed checks. It is not an
nbgrader grade cell, and sets no grade: ``nbgrader autograde`` runs it in the kernel where the
student's own cells ran first, and any of those can replace what it calls or what it prints (a
grade cell's score is read from its output). The part's points sit on the locked markdown task
cell above it, which ``nbgrader autograde`` never scores; ``grade-all --gradebook`` scores it, from
a grading in processes of its own (``instructor/gradebook.py``).
"""

import json
import os
import tempfile
from pathlib import Path

from autograder.contract import PARTS
from autograder.launch import COMPLETED, run_grading
from autograder.reports.feedback import group, part_text

# Set to 1 in the environment of `nbgrader autograde` to let the check cells check where student code
# cannot be confined (they refuse otherwise, when the reference is present).
ALLOW_UNCONFINED = "AUTOGRADER_ALLOW_UNCONFINED"


def grade_part(title: str, folder: Path | None = None) -> None:
    """Check one part of the notebooks in ``folder`` (default: the working directory) and print what the checks
    give: the points, then each function with its failed checks.

    The checks run in another process (the student's warm checker, or a fresh one) on the saved notebook
    file, not on this kernel's state: save the notebook before running the cell. Nothing is returned, so
    the cell shows no value a reader could take for a grade.
    """
    part = PARTS[title]
    folder = Path.cwd() if folder is None else Path(folder)
    if not (folder / part.notebook).is_file():
        print(f"{title}: 0 points. There is no {part.notebook} in {folder}: "
              "this cell checks the notebook file saved beside it.")
        return
    # nbgrader autograde runs each whole notebook unconfined in its kernel before this cell: an instructor
    # who grades that way where the grader cannot confine says so once, for the class (see the README).
    allowed = ["--allow-unconfined"] if os.environ.get(ALLOW_UNCONFINED) == "1" else []
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as output:
        results_path = Path(scratch) / "results.json"
        code = run_grading(folder, results_path, "--part", title, "-q", *allowed,
                           output=(output.fileno(), output.fileno()))
        if code not in COMPLETED or not results_path.is_file():
            output.seek(0)
            words = output.read().decode(errors="replace")[-4000:]
            print(f"{title}: the autograder could not run (exit code {code}); "
                  f"please tell your instructor. Its last words:\n{words}")
            return
        results = json.loads(results_path.read_text())
    print(part_summary(title, results))


def part_summary(title: str, results: dict) -> str:
    """The part's score, then its graded names, each with its failed checks (see ``reports.feedback``)."""
    return part_text(group(results, [title])[0])
