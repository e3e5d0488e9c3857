"""What each part's locked grade cell runs: that part's checks on the notebook as last saved.

The cell is an nbgrader autograder cell worth the part's points. It prints the part's checks
and leaves the part's score as the cell's value, which nbgrader takes as partial credit; it
writes nothing to stderr, which nbgrader would count as a failure.
"""

import json
import os
import tempfile
from pathlib import Path

from autograder.contract import PARTS
from autograder.instructor.launch import COMPLETED, run_grading
from autograder.reports.feedback import group, part_text

# Set to 1 in the environment of `nbgrader autograde` to let the grade cells grade where student code
# cannot be confined (they refuse otherwise, when the reference is present).
ALLOW_UNCONFINED = "AUTOGRADER_ALLOW_UNCONFINED"


def grade_part(title: str, folder: Path | None = None) -> float:
    """Grade one part of the notebooks in ``folder`` (default: the working directory); return its score.

    The checks run in another process (the student's warm checker, or a fresh one) on the saved notebook
    file, not on this kernel's state: save the notebook before running the cell.
    """
    part = PARTS[title]
    folder = Path.cwd() if folder is None else Path(folder)
    if not (folder / part.notebook).is_file():
        print(f"{title}: 0 points. There is no {part.notebook} in {folder}: "
              "this cell grades the notebook file saved beside it.")
        return 0.0
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
            return 0.0
        results = json.loads(results_path.read_text())
    print(part_summary(title, results))
    return results["score"]


def part_summary(title: str, results: dict) -> str:
    """The part's score, then its graded names, each with its failed checks (see ``reports.feedback``)."""
    return part_text(group(results, [title])[0])
