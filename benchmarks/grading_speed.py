"""How fast grading is and how much memory it takes, against what cannot be avoided: the figures of issues 13, 18, 20.

    python benchmarks/grading_speed.py [--cpus 2,1] [--class-size 8] [--jobs J] [--rounds 5]

All in one run, on this machine (Linux: it reads /proc and pins processes to CPUs), with the
reference notebooks as the submission. For each CPU setting of ``--cpus`` (by default all the
machine's CPUs, then one), every process the benchmark starts is pinned to the first n CPUs it
may use, and ``--rounds`` rounds each measure, one straight after another:

- the floor: what a student's own run of the lecture's code costs: a fresh Python that imports
  torch and scikit-learn and runs the lecture's three trainings (two linear regressions, the
  Iris MLP) with the reference functions, timed whole;
- one grading, ``python -m autograder grade`` (what Gradescope runs): wall time and peak memory
  of all its processes together, with a fresh, empty cache folder (cold), then again (warm);
- a class of N different correct submissions (the reference and the correct variants of
  ``tests/test_correct_variants.py``, in turn: copies of one would flatter any cache keyed on
  code) with ``python -m autograder grade-all --jobs J``, J = n unless given, against
  N × floor ÷ J, and peak memory of one job slot (a direct child of grade-all with all its
  processes) and of the whole.

A ratio to the floor is the sum over the rounds of the grading's times over the sum of the
floor's: each round's grading is weighed against a floor taken within the same minute, so a
shared machine that grows slower or faster during the run moves both sides alike. (The least
of the floors against the least or median of the gradings moved by 0.11-0.16 between windows
of five rounds of one run on this project's machine; the sums by 0.01-0.04.)

Then, on the same CPUs, a student's loop, as ``python -m autograder check`` runs it on a
student's machine (without the reference): three rounds of a check of Part 3 in a fresh process
(``AUTOGRADER_CHECKER=off``) and a first check that starts a warm checker of its own; after the
first round's, the median of the next 5 checks of Part 3 and the idle warm checker's PSS; then
the first and the median of the next 5 checks of the whole assignment.

Then once, on the most CPUs of the run: ``nbgrader autograde`` of the same submission, the peer.
The machine's load average is printed before and after, and the share of its CPU time the
host's hypervisor took (steal) during the run: figures from a busy machine are not for the
README, and the benchmark says so.

Memory is PSS (proportional set size), summed over the processes of a tree and sampled every
0.05 s, or less often where reading it would take more than a tenth of a CPU: a grading's
processes fork from one another and share pages, which a sum of resident sizes would count twice. Ends with the verdict on each target, and all figures as a markdown
table for the README.

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR  # noqa: E402

MEMORY_TARGET_MB = 768
CLASS_TARGET = 1.0
# Below 1: ours must be faster than nbgrader.
NBGRADER_TARGET = 1.0
ROUNDS = 5
# A student's first check, against a check in a fresh process: rounds of the two.
FIRST_CHECK_ROUNDS = 3
WARM_CHECKS = 5
SAMPLE_SECONDS = 0.05
PYTHON = sys.executable
# A student's warm check of a part, and the warm checker's memory while it waits.
WARM_CHECK_SECONDS = 2.0
CHECKER_IDLE_MB = 350
CHECKER_IDLE_SECONDS = 900
# The 1-minute load average above which the machine is not quiet enough for the README's figures, and the share of
# its CPU time that the hypervisor may give other machines during the run.
QUIET_LOAD = 0.5
QUIET_STEAL = 0.02
# One grading as Gradescope runs it (`pytest autograder/` adds Python's own shutdown, about 0.5 s).
GRADE = [PYTHON, "-m", "autograder", "grade", str(REFERENCE_DIR)]
# The most of one CPU the memory sampling may take: reading PSS costs milliseconds per process,
# and a class run has a dozen.
SAMPLING_SHARE = 0.1


def grade_floor_target(cpus: int) -> float:
    """Grade ÷ floor allowed: with one CPU the grader's own start cannot overlap the student's."""
    return 1.3 if cpus >= 2 else 1.5


def parents() -> dict[int, int]:
    """Each process's parent, from /proc/PID/stat; a process that ends while read is left out."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # The command name, in parentheses, may itself hold spaces and parentheses.
                found[int(entry.name)] = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return found


def memory_kb(pid: int) -> int:
    """PSS of ``pid`` in kB; its resident size where PSS cannot be read; 0 once it has ended."""
    for path, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as file:
                for line in file:
                    if line.startswith(field):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def subtree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and all its descendants."""
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in children.get(pid, [])]
        tree.extend(frontier)
    return tree


def sample(root: int) -> tuple[float, float]:
    """PSS in MB of ``root``'s whole tree, and of the largest subtree of one of its direct children."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents().items():
        children.setdefault(parent, []).append(pid)
    slots = [sum(map(memory_kb, subtree(child, children))) for child in children.get(root, [])]
    return (memory_kb(root) + sum(slots)) / 1024, max(slots, default=0) / 1024


def pinned(cpus: set[int]) -> Callable[[], None]:
    """What a child runs before its command: it, and all it starts, may use only ``cpus``."""
    return lambda: os.sched_setaffinity(0, cpus)


@dataclass
class Run:
    """One measured command: wall time in s, peak PSS in MB of its whole tree and of its largest job slot."""

    wall: float
    peak_mb: float
    slot_peak_mb: float


def measure(command: list[str], cpus: set[int], cwd: Path = REPO_ROOT, env: dict | None = None,
            sampled: bool = True) -> Run:
    """Run ``command`` on ``cpus``, sampling its processes' memory until it exits (unless not ``sampled``: the floor
    is timed alone)."""
    started = time.perf_counter()
    # Started before the sampling thread: a child forked while another thread runs may deadlock in preexec_fn.
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, preexec_fn=pinned(cpus))
    peaks = [0.0, 0.0]
    finished = threading.Event()

    def watch() -> None:
        # Reading PSS takes milliseconds per process: at the lowest priority the sampling uses
        # only CPU time the measured processes leave idle (a thread's nice value is its own).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while not finished.is_set():
            started = time.perf_counter()
            peaks[:] = map(max, peaks, sample(process.pid))
            finished.wait(max(SAMPLE_SECONDS, (time.perf_counter() - started) / SAMPLING_SHARE))

    watcher = threading.Thread(target=watch)
    if sampled:
        watcher.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    finished.set()
    if sampled:
        watcher.join()
    if process.returncode not in (0, 1):
        sys.exit(f"{shlex.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Run(wall, *peaks)


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
class Check:
    """A figure against its target: a ratio, or a memory in MB."""

    name: str
    value: float
    target: float
    unit: str = ""  # "MB", "s", or "" for a ratio
    strictly_below: bool = False

    @property
    def verdict(self) -> str:
        meets = self.value < self.target if self.strictly_below else self.value <= self.target
        return "meets" if meets else "misses"

    @property
    def value_text(self) -> str:
        return {"MB": f"{self.value:.0f} MB", "s": f"{self.value:.2f} s"}.get(self.unit, f"{self.value:.2f}")

    @property
    def target_text(self) -> str:
        target = {"MB": f"{self.target:.0f} MB", "s": f"{self.target:.1f} s"}.get(self.unit, f"{self.target:.1f}")
        return f"{'<' if self.strictly_below else '≤'} {target}"


def times(values: list[float]) -> str:
    """Seconds, as the figures list each run's: ``7.81, 7.92``."""
    return ", ".join(f"{value:.2f}" for value in values)


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
        ]

    def checks(self) -> list[Check]:
        return [
            Check(f"a warm check of Part 3 (median of {len(self.part3)})", statistics.median(self.part3),
                  WARM_CHECK_SECONDS, unit="s"),
            Check("first check ÷ a fresh process's", sum(self.first) / sum(self.fresh), 1.0),
            Check("the warm checker, idle", self.idle_mb, CHECKER_IDLE_MB, unit="MB"),
        ]


@dataclass
class Round:
    """One round of a CPU setting: the floor's time in s, then one grading cold and warm and a class's."""

    floor: float
    cold: Run
    warm: Run
    graded_class: Run


@dataclass
class Setting:
    """The figures measured with every process pinned to ``cpus``."""

    cpus: set[int]
    jobs: int
    class_size: int
    rounds: list[Round]
    student: StudentLoop

    @property
    def label(self) -> str:
        return f"{len(self.cpus)} CPU{'s' if len(self.cpus) > 1 else ''}"

    @property
    def jobs_text(self) -> str:
        return f"{self.jobs} job{'s' if self.jobs > 1 else ''}"

    def runs(self, kind: str) -> list[Run]:
        """Each round's run of ``kind``: "cold", "warm" or "graded_class"."""
        return [getattr(measured, kind) for measured in self.rounds]

    def peak_mb(self, kind: str, field: str = "peak_mb") -> float:
        """The largest peak PSS in MB of the runs of ``kind``, of their whole tree or (``slot_peak_mb``) of a job slot."""
        return max(getattr(run, field) for run in self.runs(kind))

    def to_floor(self, kind: str, floors_per_run: float = 1.0) -> float:
        """The runs of ``kind`` over the floors of their rounds, each floor counted ``floors_per_run`` times: the
        sums' ratio."""
        return sum(run.wall for run in self.runs(kind)) / (floors_per_run * sum(r.floor for r in self.rounds))

    def figures(self) -> list[tuple[str, str]]:
        """What was measured, as (figure, value) rows: the mean over the rounds, then each round's in brackets."""
        floors = [measured.floor for measured in self.rounds]
        rows = [("floor: a fresh Python that imports torch and sklearn and runs the three trainings",
                 f"{statistics.mean(floors):.2f} s ({times(floors)})")]
        for kind, figure in (("cold", "grading the reference, cold (empty cache)"),
                             ("warm", "grading the reference, warm"),
                             ("graded_class", f"class of {self.class_size} different correct submissions with "
                                              f"`grade-all` on {self.jobs_text}")):
            walls = [run.wall for run in self.runs(kind)]
            rows.append((figure, f"{statistics.mean(walls):.2f} s ({times(walls)}), "
                                 f"peak PSS {self.peak_mb(kind):.0f} MB"))
        return rows + self.student.figures()

    def checks(self) -> list[Check]:
        """Each figure that has a target."""
        allowed = grade_floor_target(len(self.cpus))
        return [
            Check("grade ÷ floor, cold", self.to_floor("cold"), allowed),
            Check("grade ÷ floor, warm", self.to_floor("warm"), allowed),
            Check("class ÷ (N × floor ÷ J)", self.to_floor("graded_class", self.class_size / self.jobs), CLASS_TARGET),
            Check("peak PSS of one grading, cold", self.peak_mb("cold"), MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one grading, warm", self.peak_mb("warm"), MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one job slot of the class", self.peak_mb("graded_class", "slot_peak_mb"),
                  MEMORY_TARGET_MB, unit="MB"),
            *self.student.checks(),
        ]


def floor_run(cpus: set[int]) -> float:
    """One run of the floor, timed whole, without memory sampling; one thread for torch, as the grader's workers
    have (many threads for tiny tensors only slow a loaded machine, and would flatter the ratios)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return measure([PYTHON, __file__, "--floor"], cpus, env=env, sampled=False).wall


def measure_setting(cpus: set[int], jobs: int, submitted: Path, class_size: int, rounds: int,
                    scratch: Path) -> Setting:
    """All figures of one CPU setting, with the class of ``class_size`` under ``submitted``; ``scratch`` is its own."""
    measured = []
    for index in range(rounds):
        # A cache folder of the round's own, fresh and empty, so that its first grading is cold.
        cache = scratch / f"cache{index}"
        cache.mkdir(parents=True)
        env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
        floor = floor_run(cpus)
        cold, warm = measure(GRADE, cpus, env=env), measure(GRADE, cpus, env=env)
        graded_class = measure([PYTHON, "-m", "autograder", "grade-all", str(submitted), "--out",
                                str(scratch / f"graded{index}"), "--jobs", str(jobs)], cpus, env=env)
        measured.append(Round(floor, cold, warm, graded_class))
    return Setting(cpus, jobs, class_size, measured, student_loop(cpus, scratch))


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
    return StudentLoop(fresh, first, warm, whole, idle_mb)


def print_setting(setting: Setting) -> None:
    """The plain-text table of one setting's measurements."""
    print(f"\n{setting.label} (CPUs {sorted(setting.cpus)}), class on {setting.jobs_text}")
    for figure, value in setting.figures():
        print(f"  {figure:<58} {value}")
    sys.stdout.flush()


def print_verdicts(settings: list[Setting], widest: Setting, nbgrader: Check) -> None:
    """One line per target: the figure, the target, and whether it is met."""
    print("\nverdicts")
    verdicts = [(setting, check) for setting in settings for check in setting.checks()] + [(widest, nbgrader)]
    for setting, check in verdicts:
        print(f"  {setting.label:<7} {check.name:<40} {check.value_text:>8}  {check.verdict} (target {check.target_text})")


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def print_markdown(settings: list[Setting], widest: Setting, nbgrader_wall: float, nbgrader: Check) -> None:
    """All figures as a markdown table for the README: one column per setting."""
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


def main() -> None:
    available = sorted(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=cpu_counts, default=sorted({len(available), 1}, reverse=True),
                        help="comma list of CPU counts to measure on (default: all, then 1)")
    parser.add_argument("--class-size", type=int, default=8)
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
        submitted = scratch / "submitted"
        different_submissions(submitted, args.class_size)
        settings = []
        for index, count in enumerate(args.cpus):
            settings.append(measure_setting(set(available[:count]), args.jobs or count, submitted, args.class_size,
                                            args.rounds, scratch / f"setting{index}"))
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
        print(f"WARNING: {warning}: these figures are not for the README.")


def cpu_times() -> list[int]:
    """The machine's CPU time so far, in ticks, as /proc/stat counts it: user, nice, system, idle, iowait, irq,
    softirq, steal (the time the hypervisor ran other machines while this one had work)."""
    with open("/proc/stat") as stat:
        return [int(ticks) for ticks in stat.readline().split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """The share of the CPU time between two ``cpu_times`` that was stolen."""
    spent = [late - early for early, late in zip(before, after)]
    return spent[7] / max(1, sum(spent))


def busy_warnings(load_before: float, steal: float) -> list[str]:
    """Why a run's figures are not a quiet machine's: a load when it began, or a hypervisor that took CPU time."""
    warnings = []
    if load_before > QUIET_LOAD:
        warnings.append(f"the machine was busy when the run began (1-minute load {load_before:.2f} > {QUIET_LOAD})")
    if steal > QUIET_STEAL:
        warnings.append(f"the hypervisor took {steal:.1%} of the CPU time during the run (> {QUIET_STEAL:.0%})")
    return warnings


def different_submissions(submitted: Path, count: int) -> None:
    """``count`` correct submissions under ``submitted``, no two alike where there are enough: the reference, then
    each correct variant of tests/test_correct_variants.py, in turn."""
    from tests.test_correct_variants import VARIANTS, variant_submission

    kinds = [None, *sorted(VARIANTS)]
    for index in range(count):
        folder = submitted / f"student{index:03d}" / ASSIGNMENT_ID
        kind = kinds[index % len(kinds)]
        if kind is None:
            shutil.copytree(REFERENCE_DIR, folder)
        else:
            variant_submission(VARIANTS[kind], folder)


if __name__ == "__main__":
    main()
