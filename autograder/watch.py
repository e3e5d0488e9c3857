"""``python -m autograder check --watch PATH``: check again each time a notebook is saved, saying only what changed.

The first check prints the whole feedback; each later one prints the checks that now pass, the ones that
now fail (with the first line of their message) and the new score, once the notebook's file changes on
disk (its size or modification time), looked at every second. Each check grades the notebook as saved, in
the student's warm checker, as ``check`` does.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from autograder.launch import COMPLETED, run_grading
from autograder.reports.feedback import feedback_text
from autograder.reports.report import UNCHECKED, format_points, state

POLL_SECONDS = 1.0


def stamps(files: list[Path]) -> list[tuple[int, int] | None]:
    """What tells a saved file from the one before: its size and modification time (None while it is missing)."""
    found = []
    for path in files:
        try:
            info = path.stat()
            found.append((info.st_size, info.st_mtime_ns))
        except OSError:
            found.append(None)
    return found


def graded_now(folder: Path, options: list[str]) -> dict | None:
    """One check of the notebooks in ``folder``, quietly: its results, or None where the grader could not run."""
    with tempfile.TemporaryDirectory() as scratch, open(os.devnull, "w") as quiet:
        results = Path(scratch) / "results.json"
        code = run_grading(folder, results, *options, output=(quiet.fileno(), quiet.fileno()))
        return json.loads(results.read_text()) if code in COMPLETED and results.is_file() else None


def checked_points(results: dict) -> tuple[float, float]:
    """The points earned and the points that could be checked here (the reference's comparisons aside)."""
    tests = [t for t in results["tests"] if state(t) != UNCHECKED]
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def changes(before: dict, after: dict) -> str:
    """What changed from one check to the next: checks fixed, checks newly failing, and the score."""
    old = {t["test"]: t for t in before["tests"]}
    lines = []
    for test in after["tests"]:
        was = old.get(test["test"])
        if was is None or state(test) == UNCHECKED:
            continue
        passed, passed_before = test["score"] >= test["max_score"], was["score"] >= was["max_score"]
        if passed and not passed_before:
            lines.append(f"  ✓ fixed: {test['name']}")
        elif passed_before and not passed:
            lines.append(f"  ✗ now failing: {test['name']}: {test['output'].splitlines()[0] if test['output'] else ''}")
    (old_score, _), (score, checkable) = checked_points(before), checked_points(after)
    lines.append(f"  score: {format_points(old_score)} → {format_points(score)} / {format_points(checkable)}"
                 if score != old_score else f"  score: {format_points(score)} / {format_points(checkable)}, as before")
    return "\n".join(lines)


def watch(folder: Path, files: list[Path], parts: list[str], options: list[str]) -> int:
    """Check ``folder`` now and again whenever one of ``files`` is saved, until interrupted (Ctrl-C)."""
    before, seen = None, None
    print(f"Watching {', '.join(p.name for p in files)}: save to check again; Ctrl-C to stop.", flush=True)
    try:
        while True:
            now = stamps(files)
            if now != seen:
                seen = now
                results = graded_now(folder, options)
                stamp = time.strftime("%H:%M:%S")
                if results is None:
                    print(f"[{stamp}] the grader could not run; run `python -m autograder check` to see why.")
                elif before is None:
                    print(f"[{stamp}]\n{feedback_text(results, parts)}")
                else:
                    print(f"[{stamp}]\n{changes(before, results)}")
                sys.stdout.flush()
                before = results or before
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return 0
