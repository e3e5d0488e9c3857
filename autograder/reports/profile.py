"""Where one grading's time went, for benchmarks/grading_profile.py: written where ``AUTOGRADER_PROFILE`` names a folder."""

import json
import os
from pathlib import Path


def write_profile(folder: Path, name: str, phases: dict[str, float], checks: list[dict[str, object]],
                  student: list[tuple[str, str, float]], reference: list[tuple[str, str, float]]) -> None:
    """Write, as ``<name>-<pid>.json`` in ``folder``: the grading's ``phases`` (seconds from its start to configured,
    checked and finished), its ``checks`` (each one's part, graded name and seconds), and each piece of the student's
    code and the reference's that it ran, ``(what, kind, seconds)`` with kind a worker's start, a training or a call."""
    profile = {"phases": phases, "checks": checks, "student": student, "reference": reference}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-{os.getpid()}.json").write_text(json.dumps(profile))
