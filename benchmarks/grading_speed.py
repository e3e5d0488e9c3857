"""How fast grading is and how much memory it takes, against what cannot be avoided (issues 13, 18, 20, 27, 29).

    python benchmarks/grading_speed.py [--cpus 2,1] [--class-sizes 2,12] [--jobs J] [--rounds 5]

All in one run, on this machine (Linux: it reads /proc and pins processes to CPUs), with the
reference notebooks as the submission. For each CPU setting of ``--cpus`` (by default all the
machine's CPUs, then one), every process the benchmark starts is pinned to the first n CPUs it
may use, and ``--rounds`` rounds each measure, one straight after another:

- the floor: what a student's own run of the lecture's code costs: a fresh Python that imports
  torch and scikit-learn and runs the lecture's three trainings (two linear regressions, the
  Iris MLP) with the reference functions, timed whole;
- one grading, ``python -m autograder grade`` (what Gradescope runs): wall time and peak memory
  of all its processes together, with a fresh, empty cache folder (cold), then again (warm);
- two classes of different correct submissions (``benchmarks/classes.py``), of the two sizes of
  ``--class-sizes``, with ``python -m autograder grade-all --jobs J`` (J = n unless given): what one
  submission costs a core (the slope) and what a class costs whatever its size (the intercept),
  each against the floor; peak memory of one job slot and of the whole.

A ratio to the floor is the sum over the rounds of the grading's times over the sum of the
floor's: each round's grading is weighed against a floor taken within the same minute, so a
shared machine that grows slower or faster during the run moves both sides alike. (The least
of the floors against the least or median of the gradings moved by 0.11-0.16 between windows
of five rounds of one run on this project's machine; the sums by 0.01-0.04.) The last round's
large class is graded with a profile (``benchmarks/grading_profile.py``): where one grading's time goes.

Then, on the same CPUs, a student's loop (``benchmarks/student_loop.py``); then once, on the most
CPUs of the run, ``nbgrader autograde`` of the same submission, the peer. The machine's load
average is printed before and after, and the share of its CPU time the host's hypervisor took
(steal) during the run: figures from a busy machine are not for the documentation, and the
benchmark says so. Ends with the verdict on each target, and all figures as a markdown table.

Timings on shared machines are noisy: compare figures from one run, not across runs.
"""

import argparse
import datetime
import importlib.metadata
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR  # noqa: E402
from benchmarks import grading_profile  # noqa: E402
from benchmarks.classes import ClassFit, different_submissions  # noqa: E402
from benchmarks.measure import (PYTHON, Check, Run, busy_warnings, cpu_times, measure, pinned, steal_share,  # noqa: E402
                                times)
from benchmarks.student_loop import StudentLoop, student_loop  # noqa: E402

MEMORY_TARGET_MB = 768
# A submission in a warm job slot should cost a core what the student's own trainings cost: about 0.6 of the floor
# (the rest of it is importing torch); a class's fixed cost no more than one floor (issue 29).
PER_SUBMISSION_TARGET = 0.6
FIXED_TARGET = 1.0
# Below 1: ours must be faster than nbgrader.
NBGRADER_TARGET = 1.0
ROUNDS = 5
CLASS_SIZES = (2, 12)
# One grading as Gradescope runs it (`pytest autograder/` adds Python's own shutdown, about 0.5 s).
GRADE = [PYTHON, "-m", "autograder", "grade", str(REFERENCE_DIR)]


def grade_floor_target(cpus: int) -> float:
    """Grade ÷ floor allowed: with one CPU the grader's own start cannot overlap the student's."""
    return 1.3 if cpus >= 2 else 1.5


def lecture_trainings() -> None:
    """What the floor times, in a fresh process: import torch and scikit-learn, run the lecture's three trainings."""
    import sklearn  # noqa: F401 - the notebooks import it
    import torch  # noqa: F401

    from autograder.boundary.notebook import Submission, read_submission
    from autograder.suite import probes

    reference = Submission(read_submission(REFERENCE_DIR, "reference"), "reference")
    linear = {"seed": 1, "batch_size": 1, "learning_rate": 0.001, "num_epochs": 200}
    probes.linear_regression_run(reference, **linear)
    probes.nn_regression_run(reference, replay_epochs=200, **linear)
    probes.mlp_training_run(reference, seed=1, batch_size=2, optimizer="adam", learning_rate=0.001,
                            num_epochs=100, device="cpu", students_model=True)


def nbgrader_autograde(scratch: Path, cpus: set[int]) -> float:
    """Wall time of ``nbgrader autograde`` of the reference on ``cpus``, in a temporary course."""
    course = scratch / "course"
    shutil.copytree(REFERENCE_DIR, course / "source" / ASSIGNMENT_ID)
    shutil.copytree(REFERENCE_DIR, course / "submitted" / "student" / ASSIGNMENT_ID)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 600\n")
    # A cache folder of its own, so that the notebooks' runs write nothing into the user's.
    # nbgrader runs the tools it installed (alembic) by name: this Python's folder first on PATH, as in an activated
    # environment.
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache"),
           "PATH": os.pathsep.join([str(Path(PYTHON).parent), os.environ.get("PATH", "")])}
    nbgrader = [PYTHON, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", ASSIGNMENT_ID], cwd=course, env=env, check=True,
                   capture_output=True, preexec_fn=pinned(cpus))
    return measure([*nbgrader, "autograde", ASSIGNMENT_ID], cpus, cwd=course, env=env).wall


@dataclass
class Round:
    """One round of a CPU setting: the floor's time in s, then one grading cold and warm, and a small and a large
    class."""

    floor: float
    cold: Run
    warm: Run
    small_class: Run
    large_class: Run


@dataclass
class Setting:
    """The figures measured with every process pinned to ``cpus``."""

    cpus: set[int]
    jobs: int
    sizes: tuple[int, int]
    rounds: list[Round]
    student: StudentLoop
    profiled: grading_profile.Profile

    @property
    def label(self) -> str:
        return f"{len(self.cpus)} CPU{'s' if len(self.cpus) > 1 else ''}"

    @property
    def jobs_text(self) -> str:
        return f"{self.jobs} job{'s' if self.jobs > 1 else ''}"

    def runs(self, kind: str) -> list[Run]:
        """Each round's run of ``kind``: "cold", "warm", "small_class" or "large_class"."""
        return [getattr(measured, kind) for measured in self.rounds]

    def peak_mb(self, kind: str, field: str = "peak_mb") -> float:
        """The largest peak PSS in MB of the runs of ``kind``, of their whole tree or (``slot_peak_mb``) of a job slot."""
        return max(getattr(run, field) for run in self.runs(kind))

    def to_floor(self, kind: str) -> float:
        """The runs of ``kind`` over the floors of their rounds: the sums' ratio."""
        return sum(run.wall for run in self.runs(kind)) / sum(r.floor for r in self.rounds)

    @property
    def fit(self) -> ClassFit:
        return ClassFit(*self.sizes, self.jobs, self.runs("small_class"), self.runs("large_class"),
                        [r.floor for r in self.rounds])

    def figures(self) -> list[tuple[str, str]]:
        """What was measured, as (figure, value) rows: the mean over the rounds, then each round's in brackets."""
        floors = [measured.floor for measured in self.rounds]
        rows = [("floor: a fresh Python that imports torch and sklearn and runs the three trainings",
                 f"{statistics.mean(floors):.2f} s ({times(floors)})")]
        for kind, figure in (("cold", "grading the reference, cold (empty cache)"),
                             ("warm", "grading the reference, warm"),
                             ("small_class", f"class of {self.sizes[0]} different correct submissions, {self.jobs_text}"),
                             ("large_class", f"class of {self.sizes[1]} different correct submissions, {self.jobs_text}")):
            walls = [run.wall for run in self.runs(kind)]
            rows.append((figure, f"{statistics.mean(walls):.2f} s ({times(walls)}), "
                                 f"peak PSS {self.peak_mb(kind):.0f} MB"))
        rows.append(("a class: per submission per core (slope × jobs); fixed (intercept)",
                     f"{self.fit.per_submission:.2f} s; {self.fit.fixed:.2f} s"))
        return rows + self.student.figures()

    def checks(self) -> list[Check]:
        """Each figure that has a target."""
        allowed = grade_floor_target(len(self.cpus))
        per_submission, fixed = self.fit.to_floor()
        return [
            Check("grade ÷ floor, cold", self.to_floor("cold"), allowed),
            Check("grade ÷ floor, warm", self.to_floor("warm"), allowed),
            Check("a class: per submission per core ÷ floor", per_submission, PER_SUBMISSION_TARGET),
            Check("a class: fixed cost ÷ floor", fixed, FIXED_TARGET),
            Check("peak PSS of one grading, cold", self.peak_mb("cold"), MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one grading, warm", self.peak_mb("warm"), MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one job slot of the class", self.peak_mb("large_class", "slot_peak_mb"),
                  MEMORY_TARGET_MB, unit="MB"),
            *self.student.checks(),
        ]


def floor_run(cpus: set[int]) -> float:
    """One run of the floor, timed whole, without memory sampling; one thread for torch, as the grader's workers
    have (many threads for tiny tensors only slow a loaded machine, and would flatter the ratios)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return measure([PYTHON, __file__, "--floor"], cpus, env=env, sampled=False, succeeded=(0,)).wall


def grade_class(submitted: Path, out: Path, jobs: int, cpus: set[int], env: dict[str, str]) -> Run:
    """``grade-all`` of the class in ``submitted`` into ``out``, measured."""
    return measure([PYTHON, "-m", "autograder", "grade-all", str(submitted), "--out", str(out), "--jobs", str(jobs)],
                   cpus, env=env)


def measure_setting(cpus: set[int], jobs: int, classes: tuple[Path, Path], sizes: tuple[int, int], rounds: int,
                    scratch: Path) -> Setting:
    """All figures of one CPU setting, with the classes of ``sizes`` in ``classes``; ``scratch`` is its own."""
    measured = []
    profiles = scratch / "profiles"
    for index in range(rounds):
        # A cache folder of the round's own, fresh and empty, so that its first grading is cold.
        cache = scratch / f"cache{index}"
        cache.mkdir(parents=True)
        env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
        floor = floor_run(cpus)
        cold, warm = measure(GRADE, cpus, env=env), measure(GRADE, cpus, env=env)
        small = grade_class(classes[0], scratch / f"small{index}", jobs, cpus, env)
        last = index == rounds - 1  # profiled: writing a profile costs a few milliseconds a grading
        large = grade_class(classes[1], scratch / f"large{index}", jobs, cpus,
                            {**env, "AUTOGRADER_PROFILE": str(profiles)} if last else env)
        measured.append(Round(floor, cold, warm, small, large))
    return Setting(cpus, jobs, sizes, measured, student_loop(cpus, scratch), grading_profile.read(profiles))


def print_setting(setting: Setting) -> None:
    """The plain-text table of one setting's measurements, then its profile."""
    print(f"\n{setting.label} (CPUs {sorted(setting.cpus)}), classes on {setting.jobs_text}")
    for figure, value in setting.figures():
        print(f"  {figure:<58} {value}")
    print()
    print("\n".join(f"  {line}" for line in grading_profile.lines(setting.profiled)))
    sys.stdout.flush()


def print_verdicts(settings: list[Setting], widest: Setting, nbgrader: Check) -> None:
    """One line per target: the figure, the target, and whether it is met."""
    print("\nverdicts")
    verdicts = [(setting, check) for setting in settings for check in setting.checks()] + [(widest, nbgrader)]
    for setting, check in verdicts:
        print(f"  {setting.label:<7} {check.name:<42} {check.value_text:>8}  {check.verdict} (target {check.target_text})")


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def print_markdown(settings: list[Setting], widest: Setting, nbgrader_wall: float, nbgrader: Check) -> None:
    """All figures as a markdown table for the documentation: one column per setting."""
    command = shlex.join(["python", *sys.argv])
    print(f"\nMeasured {datetime.date.today().isoformat()}, torch {importlib.metadata.version('torch')}, "
          f"os.cpu_count() = {os.cpu_count()}, one run of `{command}`:\n")
    print(markdown_row(["figure", *(setting.label for setting in settings), "target"]))
    print(markdown_row(["---"] * (len(settings) + 2)))
    for row, figure in enumerate(settings[0].figures()):
        print(markdown_row([figure[0], *(setting.figures()[row][1] for setting in settings), ""]))
    for row, check in enumerate(settings[0].checks()):
        checks = [setting.checks()[row] for setting in settings]
        targets = list(dict.fromkeys(c.target_text for c in checks))
        target = targets[0] if len(targets) == 1 else "; ".join(
            f"{c.target_text} on {setting.label}" for c, setting in zip(checks, settings))
        print(markdown_row([check.name, *(f"**{c.value_text}** {c.verdict}" for c in checks), target]))
    # nbgrader ran once, on the widest setting: its figures go in that column alone.
    for figure, value, target in (("`nbgrader autograde` of the reference", f"{nbgrader_wall:.2f} s", ""),
                                  (nbgrader.name, f"**{nbgrader.value_text}** {nbgrader.verdict}", nbgrader.target_text)):
        print(markdown_row([figure, *(value if setting is widest else "" for setting in settings), target]))


def cpu_counts(text: str) -> list[int]:
    """``--cpus``: a comma list of CPU counts, each from 1 to the CPUs this process may use."""
    available = len(os.sched_getaffinity(0))
    counts = [int(count) for count in text.split(",")]
    if not all(1 <= count <= available for count in counts):
        raise argparse.ArgumentTypeError(f"each count must be from 1 to {available}")
    return counts


def class_sizes(text: str) -> tuple[int, int]:
    """``--class-sizes``: two class sizes, the smaller first."""
    small, large = (int(size) for size in text.split(","))
    if not 1 <= small < large:
        raise argparse.ArgumentTypeError("two sizes, the first smaller and at least 1: 2,12")
    return small, large


def main() -> None:
    available = sorted(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=cpu_counts, default=sorted({len(available), 1}, reverse=True),
                        help="comma list of CPU counts to measure on (default: all, then 1)")
    parser.add_argument("--class-sizes", type=class_sizes, default=CLASS_SIZES,
                        help=f"the two class sizes (default: {','.join(map(str, CLASS_SIZES))})")
    parser.add_argument("--jobs", type=int, help="grade-all's --jobs (default: the setting's CPU count)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds of each setting (default: {ROUNDS})")
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        lecture_trainings()
        return
    load_before, cpu_before = os.getloadavg(), cpu_times()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        small, large = scratch / "small" / "submitted", scratch / "large" / "submitted"
        different_submissions(large, args.class_sizes[1])
        for student in sorted(large.iterdir())[:args.class_sizes[0]]:
            shutil.copytree(student, small / student.name)
        settings = []
        for index, count in enumerate(args.cpus):
            settings.append(measure_setting(set(available[:count]), args.jobs or count, (small, large),
                                            args.class_sizes, args.rounds, scratch / f"setting{index}"))
            print_setting(settings[-1])
        widest = max(settings, key=lambda setting: len(setting.cpus))
        nbgrader_wall = nbgrader_autograde(scratch / "nbgrader", widest.cpus)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    warm_wall = statistics.mean(run.wall for run in widest.runs("warm"))
    nbgrader = Check("ours (warm, mean) ÷ `nbgrader autograde`", warm_wall / nbgrader_wall, NBGRADER_TARGET,
                     strictly_below=True)
    print(f"\nnbgrader autograde of the reference on {widest.label}: {nbgrader_wall:.2f} s")
    print_verdicts(settings, widest, nbgrader)
    print_markdown(settings, widest, nbgrader_wall, nbgrader)
    load_after, steal = os.getloadavg(), steal_share(cpu_before, cpu_times())
    print(f"\nload average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (this run's own load included); "
          f"CPU time taken by the hypervisor (steal) during the run: {steal:.1%}")
    for warning in busy_warnings(load_before[0], steal):
        print(f"WARNING: {warning}: these figures are not for the documentation.")


if __name__ == "__main__":
    main()
