"""Where a class's gradings spent their time: the profiles each grading wrote (``AUTOGRADER_PROFILE``, see
``autograder/reports/profile.py``), per grading, summed over the class.

The phases: from the job slot's fork to the grading configured (confined, its zygote forked, the notebooks read),
to every check run, to the results written. Within the checks, the student's code: each worker's start (forked,
confined, its code loaded), each training with how many times each graded function was trained, the other calls;
the reference's side, computed in the grader; and the rest, the grader's own work (pytest, hypothesis, the
expectations it computes).
"""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Profile:
    """A class's gradings' profiles, summed: divide by ``gradings`` for one grading's."""

    gradings: int = 0
    phases: Counter = field(default_factory=Counter)  # "configured", "checked", "finished": seconds from the fork
    parts: Counter = field(default_factory=Counter)  # each part's checks' seconds
    spent: Counter = field(default_factory=Counter)  # ("student" or "reference", kind): seconds
    trainings: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))

    def per_grading(self, seconds: float) -> float:
        return seconds / max(1, self.gradings)


def read(folder: Path) -> Profile:
    """The profiles in ``folder``, summed."""
    profile = Profile()
    for path in sorted(folder.glob("*.json")):
        one = json.loads(path.read_text())
        profile.gradings += 1
        profile.phases.update(one["phases"])
        for check in one["checks"]:
            profile.parts[check["part"]] += check["seconds"]
        for side in ("student", "reference"):
            for what, kind, seconds in one[side]:
                profile.spent[(side, kind)] += seconds
                if kind == "training":
                    profile.trainings[(side, what)].append(seconds)
    return profile


def lines(profile: Profile) -> list[str]:
    """The profile of one grading (the class's mean), as lines to print."""
    mean = profile.per_grading
    phases = profile.phases
    out = [f"one grading in a job slot, mean of {profile.gradings}: "
           f"{mean(phases['finished']):.2f} s from its fork to its results written"]
    out.append(f"  to configured (confined, zygote forked, notebooks read)  {mean(phases['configured']):6.2f} s")
    out.append(f"  checks                                                   {mean(phases['checked'] - phases['configured']):6.2f} s")
    for part, seconds in sorted(profile.parts.items()):
        out.append(f"    {part:<52} {mean(seconds):6.2f} s")
    accounted = 0.0
    for (side, kind), seconds in sorted(profile.spent.items()):
        accounted += seconds
        out.append(f"    of which the {side}'s {kind}s{'':<{35 - len(side) - len(kind)}} {mean(seconds):6.2f} s")
    grader = phases["checked"] - phases["configured"] - accounted
    out.append(f"    of which the grader's own (pytest, hypothesis, expectations)  {mean(grader):6.2f} s")
    out.append(f"  results written                                          {mean(phases['finished'] - phases['checked']):6.2f} s")
    out.append("  trainings per grading (times run, seconds), most costly first:")
    for (side, what), runs in sorted(profile.trainings.items(), key=lambda item: -sum(item[1])):
        out.append(f"    {len(runs) / profile.gradings:5.1f} x {mean(sum(runs)):5.2f} s  {side}: {what}")
    return out
