"""A student's loop, as on a student's machine (no reference): checks in a fresh process and in their warm checker,
and their own ``pytest autograder/`` against ``python -m autograder check`` in a student bundle.

Three rounds of a check of Part 3 in a fresh process (``AUTOGRADER_CHECKER=off``) and a first check
that starts a warm checker of its own; after the first round's, the median of the next 5 checks of
Part 3 and the idle warm checker's PSS; then the first and the median of the next 5 checks of the
whole assignment. In a student bundle, warm: rounds of ``pytest autograder/`` and of
``python -m autograder check`` of the same folder, one after the other, as their sums' ratio.
"""

import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.contract import REFERENCE_DIR
from benchmarks.measure import PYTHON, Check, measure, memory_kb, times

WARM_CHECKS = 5
# A student's first check, against a check in a fresh process: rounds of the two.
FIRST_CHECK_ROUNDS = 3
# A student's warm check of a part, and the warm checker's memory while it waits.
WARM_CHECK_SECONDS = 2.0
CHECKER_IDLE_MB = 350
CHECKER_IDLE_SECONDS = 900
# A student's own `pytest autograder/` against `check` of the same folder, warm (issue 27).
PYTEST_TO_CHECK = 1.3


@dataclass
class StudentLoop:
    """A student's checks, in s: rounds of a check of Part 3 in a fresh process and a first check (which starts a warm
    checker), the checks of Part 3 after the first round's first, the first and next checks of the whole assignment;
    and the idle warm checker's PSS in MB."""

    fresh: list[float]
    first: list[float]
    part3: list[float]
    whole: list[float]
    idle_mb: float
    own_pytest: list[float]  # in a student bundle, warm: `pytest autograder/` ...
    own_check: list[float]  # ... and `python -m autograder check` of the same folder, round by round

    def figures(self) -> list[tuple[str, str]]:
        return [
            (f"a check of Part 3 in a fresh process (no warm checker; {len(self.fresh)} rounds)",
             f"{statistics.mean(self.fresh):.2f} s ({times(self.fresh)})"),
            ("a student's first check of Part 3 (it starts the warm checker)",
             f"{statistics.mean(self.first):.2f} s ({times(self.first)})"),
            (f"a student's check of Part 3 after the first (median of {len(self.part3)})",
             f"{statistics.median(self.part3):.2f} s ({times(self.part3)})"),
            (f"a student's check of the whole assignment: first; median of the next {len(self.whole) - 1}",
             f"{self.whole[0]:.2f} s; {statistics.median(self.whole[1:]):.2f} s ({times(self.whole[1:])})"),
            ("the warm checker, idle", f"PSS {self.idle_mb:.0f} MB"),
            (f"in a student bundle, warm: `pytest autograder/`, mean of {len(self.own_pytest)}",
             f"{statistics.mean(self.own_pytest):.2f} s ({times(self.own_pytest)})"),
            (f"in a student bundle, warm: `python -m autograder check` of the same folder, mean of {len(self.own_check)}",
             f"{statistics.mean(self.own_check):.2f} s ({times(self.own_check)})"),
        ]

    def checks(self) -> list[Check]:
        return [
            Check(f"a warm check of Part 3 (median of {len(self.part3)})", statistics.median(self.part3),
                  WARM_CHECK_SECONDS, unit="s"),
            Check("first check ÷ a fresh process's", sum(self.first) / sum(self.fresh), 1.0),
            Check("the warm checker, idle", self.idle_mb, CHECKER_IDLE_MB, unit="MB"),
            Check("a student's `pytest autograder/` ÷ `check`", sum(self.own_pytest) / sum(self.own_check),
                  PYTEST_TO_CHECK),
        ]


def student_loop(cpus: set[int], scratch: Path) -> StudentLoop:
    """A student's checks of the reference notebooks, without the reference, as on a student's machine."""
    folder = scratch / "student"
    shutil.copytree(REFERENCE_DIR, folder)
    part3 = folder / "03_activations.ipynb"

    def check(target: Path, temporary: Path, setting: str = str(CHECKER_IDLE_SECONDS)) -> float:
        """One check; a TMPDIR of its own is a warm checker of its own, started by its first check."""
        temporary.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(temporary), "AUTOGRADER_CHECKER": setting}
        command = [PYTHON, "-m", "autograder", "check", str(target), "--reference", str(scratch / "no-reference"), "-q"]
        return measure(command, cpus, env=env, sampled=False).wall

    def stop_checker(temporary: Path) -> None:
        subprocess.run(["pkill", "-f", f"autograder.slot --serve {temporary}/"], check=False)

    fresh, first, warm = [], [], []
    idle_mb = 0.0
    for index in range(FIRST_CHECK_ROUNDS):
        fresh.append(check(part3, scratch / f"fresh{index}", "off"))
        first.append(check(part3, scratch / f"part3-{index}"))
        if index == 0:
            warm = [check(part3, scratch / "part3-0") for _ in range(WARM_CHECKS)]
            time.sleep(2)  # idle
            checker = subprocess.run(["pgrep", "-f", f"autograder.slot --serve {scratch}/part3-0/"],
                                     capture_output=True, text=True).stdout.split()
            idle_mb = sum(memory_kb(int(pid)) for pid in checker) / 1024
        stop_checker(scratch / f"part3-{index}")
    whole = [check(folder, scratch / "whole") for _ in range(1 + WARM_CHECKS)]
    stop_checker(scratch / "whole")
    own_pytest, own_check = pytest_and_check(cpus, scratch / "bundle")
    return StudentLoop(fresh, first, warm, whole, idle_mb, own_pytest, own_check)


def pytest_and_check(cpus: set[int], scratch: Path) -> tuple[list[float], list[float]]:
    """In a new student bundle of the reference's notebooks, after a first check starts the warm checker: rounds of
    a student's own ``pytest autograder/`` and of ``python -m autograder check`` of the same folder, each round one
    of each. Both run with ``python -m`` from the bundle, so that its own copy of the package grades."""
    from autograder.instructor.student_bundle import build_student_bundle

    bundle, temporary = scratch / "student", scratch / "tmp"
    build_student_bundle(bundle)
    shutil.rmtree(bundle / "assignments" / "pytorch_nn")
    shutil.copytree(REFERENCE_DIR, bundle / "assignments" / "pytorch_nn")
    temporary.mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(temporary), "AUTOGRADER_CHECKER": str(CHECKER_IDLE_SECONDS)}
    commands = {"pytest": [PYTHON, "-m", "pytest", "autograder/"],
                "check": [PYTHON, "-m", "autograder", "check", "assignments/pytorch_nn"]}
    measure(commands["check"], cpus, cwd=bundle, env=env, sampled=False)  # starts the warm checker
    walls: dict[str, list[float]] = {"pytest": [], "check": []}
    for _ in range(WARM_CHECKS):
        for kind, command in commands.items():
            walls[kind].append(measure(command, cpus, cwd=bundle, env=env, sampled=False).wall)
    subprocess.run(["pkill", "-f", f"autograder.slot --serve {temporary}/"], check=False)
    return walls["pytest"], walls["check"]
