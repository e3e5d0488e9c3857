"""How fast grading is and how much memory it takes, against what cannot be avoided: the figures of issues 13, 18, 20.

    python benchmarks/grading_speed.py [--cpus 2,1] [--class-size 20] [--jobs J]

All in one run, on this machine (Linux: it reads /proc and pins processes to CPUs), with the
reference notebooks as the submission. For each CPU setting of ``--cpus`` (by default all the
machine's CPUs, then one), every process the benchmark starts is pinned to the first n CPUs it may use:

- floor: what a student's own run of the lecture's code costs: a fresh Python that imports
  torch and scikit-learn and runs the lecture's three trainings (two linear regressions, the
  Iris MLP) with the reference functions, timed whole; the least of 3 runs, taken between the
  gradings it is compared with, so that both see the same machine;
- one grading, ``python -m autograder grade`` (what Gradescope runs): wall time and peak memory
  of all its processes together, first with a fresh, empty cache folder (cold), then the median
  of the next 3 runs (warm), each after one of the floor's runs;
- a class of N different correct submissions (the reference and the correct variants of
  ``tests/test_correct_variants.py``, in turn: copies of one would flatter any cache keyed on
  code) with ``python -m autograder grade-all --jobs J``, J = n unless given: wall time against
  N × floor ÷ J, and peak memory of one job slot (a direct child of grade-all with all its
  processes) and of the whole;
- a student's loop, as ``python -m autograder check`` runs it on a student's machine (without
  the reference): the first check of Part 3 (it starts the warm checker) and the median of
  the next 5, then the same for the whole assignment (with a checker of its own), a check in
  a fresh process for comparison (``AUTOGRADER_CHECKER=off``), and the idle warm checker's PSS.

Then once, on the most CPUs of the run: ``nbgrader autograde`` of the same submission, the peer.
The machine's load average is printed before and after: figures from a loaded machine are
not for the README, and the benchmark says so.

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
# The short measurements (the import, a warm grading) are taken this many times; the median counts.
REPEATS = 3
SAMPLE_SECONDS = 0.05
PYTHON = sys.executable
# A student's warm check of a part, and the warm checker's memory while it waits.
WARM_CHECK_SECONDS = 2.0
CHECKER_IDLE_MB = 350
CHECKER_IDLE_SECONDS = 900
# The 1-minute load average above which the machine is not quiet enough for the README's figures.
QUIET_LOAD = 0.5
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


@dataclass
class StudentLoop:
    """A student's checks, in s: the first of Part 3 (starting the warm checker) and the next five, the same for the
    whole assignment, one check of Part 3 in a fresh process; and the idle warm checker's PSS in MB."""

    part3: list[float]
    whole: list[float]
    fresh: float
    idle_mb: float

    def figures(self) -> list[tuple[str, str]]:
        rest = statistics.median(self.part3[1:]), statistics.median(self.whole[1:])
        return [
            ("a student's check of Part 3: first; median of the next 5",
             f"{self.part3[0]:.2f} s; {rest[0]:.2f} s ({', '.join(f'{t:.2f}' for t in self.part3[1:])})"),
            ("a student's check of the whole assignment: first; median of the next 5",
             f"{self.whole[0]:.2f} s; {rest[1]:.2f} s ({', '.join(f'{t:.2f}' for t in self.whole[1:])})"),
            ("a check of Part 3 in a fresh process (no warm checker)", f"{self.fresh:.2f} s"),
            ("the warm checker, idle", f"PSS {self.idle_mb:.0f} MB"),
        ]

    def checks(self) -> list[Check]:
        return [
            Check("a warm check of Part 3 (median of 5)", statistics.median(self.part3[1:]), WARM_CHECK_SECONDS,
                  unit="s"),
            Check("first check ÷ a fresh process's", self.part3[0] / self.fresh, 1.0),
            Check("the warm checker, idle", self.idle_mb, CHECKER_IDLE_MB, unit="MB"),
        ]


@dataclass
class Setting:
    """The figures measured with every process pinned to ``cpus``."""

    cpus: set[int]
    jobs: int
    class_size: int
    floors: list[float]
    cold: Run
    warm: list[Run]
    graded_class: Run
    student: StudentLoop

    @property
    def label(self) -> str:
        return f"{len(self.cpus)} CPU{'s' if len(self.cpus) > 1 else ''}"

    @property
    def jobs_text(self) -> str:
        return f"{self.jobs} job{'s' if self.jobs > 1 else ''}"

    @property
    def floor(self) -> float:
        return min(self.floors)

    @property
    def warm_wall(self) -> float:
        return statistics.median(run.wall for run in self.warm)

    @property
    def warm_peak_mb(self) -> float:
        return max(run.peak_mb for run in self.warm)

    @property
    def class_ideal(self) -> float:
        return self.class_size * self.floor / self.jobs

    def figures(self) -> list[tuple[str, str]]:
        """What was measured, as (figure, value) rows."""
        warm_walls = ", ".join(f"{run.wall:.2f}" for run in self.warm)
        return [
            ("floor: a fresh Python that imports torch and sklearn and runs the three trainings (least of 3)",
             f"{self.floor:.2f} s ({', '.join(f'{t:.2f}' for t in self.floors)})"),
            ("grading the reference, cold (empty cache)", f"{self.cold.wall:.2f} s, peak PSS {self.cold.peak_mb:.0f} MB"),
            (f"grading the reference, warm (median of {REPEATS}; peak: largest)",
             f"{self.warm_wall:.2f} s ({warm_walls}), peak PSS {self.warm_peak_mb:.0f} MB"),
            (f"class of {self.class_size} different correct submissions with `grade-all`",
             f"{self.graded_class.wall:.2f} s on {self.jobs_text} (N × floor ÷ J = {self.class_ideal:.2f} s), "
             f"peak PSS {self.graded_class.peak_mb:.0f} MB"),
            *self.student.figures(),
        ]

    def checks(self) -> list[Check]:
        """Each figure that has a target."""
        allowed = grade_floor_target(len(self.cpus))
        return [
            Check("grade ÷ floor, cold", self.cold.wall / self.floor, allowed),
            Check("grade ÷ floor, warm", self.warm_wall / self.floor, allowed),
            Check("class ÷ (N × floor ÷ J)", self.graded_class.wall / self.class_ideal, CLASS_TARGET),
            Check("peak PSS of one grading, cold", self.cold.peak_mb, MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one grading, warm", self.warm_peak_mb, MEMORY_TARGET_MB, unit="MB"),
            Check("peak PSS of one job slot of the class", self.graded_class.slot_peak_mb, MEMORY_TARGET_MB, unit="MB"),
            *self.student.checks(),
        ]


def floor_run(cpus: set[int]) -> float:
    """One run of the floor, timed whole, without memory sampling; one thread for torch, as the grader's workers
    have (many threads for tiny tensors only slow a loaded machine, and would flatter the ratios)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return measure([PYTHON, __file__, "--floor"], cpus, env=env, sampled=False).wall


def measure_setting(cpus: set[int], jobs: int, submitted: Path, class_size: int, scratch: Path) -> Setting:
    """All figures of one CPU setting, with the class of ``class_size`` under ``submitted``; ``scratch`` is its own.

    The floor's three runs are interleaved with the three warm gradings (floor, grading, floor, ...), so that a
    machine that grows busier or quieter during the run moves both sides of the ratio alike."""
    # A cache folder of this setting's own, fresh and empty, so that its first grading is cold.
    (scratch / "cache").mkdir(parents=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache")}
    cold = measure(GRADE, cpus, env=env)
    floors, warm = [], []
    for _ in range(REPEATS):
        floors.append(floor_run(cpus))
        warm.append(measure(GRADE, cpus, env=env))
    graded_class = measure([PYTHON, "-m", "autograder", "grade-all", str(submitted), "--out", str(scratch / "graded"),
                            "--jobs", str(jobs)], cpus, env=env)
    return Setting(cpus, jobs, class_size, floors, cold, warm, graded_class, student_loop(cpus, scratch))


def student_loop(cpus: set[int], scratch: Path) -> StudentLoop:
    """A student's checks of the reference notebooks, without the reference, as on a student's machine."""
    folder = scratch / "student"
    shutil.copytree(REFERENCE_DIR, folder)
    as_a_student = ["--reference", str(scratch / "no-reference"), "-q"]

    def checks(target: Path, name: str, setting: str, count: int) -> tuple[list[float], str]:
        temporary = scratch / name  # a TMPDIR of its own: a warm checker of its own, started by the first check
        temporary.mkdir()
        env = {**os.environ, "TMPDIR": str(temporary), "AUTOGRADER_CHECKER": setting}
        command = [PYTHON, "-m", "autograder", "check", str(target), *as_a_student]
        return [measure(command, cpus, env=env, sampled=False).wall for _ in range(count)], str(temporary)

    part3, part3_folder = checks(folder / "03_activations.ipynb", "part3", str(CHECKER_IDLE_SECONDS), 6)
    time.sleep(2)  # idle
    checker = [int(pid) for pid in subprocess.run(["pgrep", "-f", f"autograder.slot --serve {part3_folder}/"],
                                                  capture_output=True, text=True).stdout.split()]
    idle_mb = sum(memory_kb(pid) for pid in checker) / 1024
    whole, whole_folder = checks(folder, "whole", str(CHECKER_IDLE_SECONDS), 6)
    fresh, _ = checks(folder / "03_activations.ipynb", "fresh", "off", 1)
    for folder_used in (part3_folder, whole_folder):
        subprocess.run(["pkill", "-f", f"autograder.slot --serve {folder_used}/"], check=False)
    return StudentLoop(part3, whole, fresh[0], idle_mb)


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
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--jobs", type=int, help="grade-all's --jobs (default: the setting's CPU count)")
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        lecture_trainings()
        return
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        submitted = scratch / "submitted"
        different_submissions(submitted, args.class_size)
        settings = []
        for index, count in enumerate(args.cpus):
            settings.append(measure_setting(set(available[:count]), args.jobs or count, submitted, args.class_size,
                                            scratch / f"setting{index}"))
            print_setting(settings[-1])
        widest = max(settings, key=lambda setting: len(setting.cpus))
        nbgrader_wall = nbgrader_autograde(scratch / "nbgrader", widest.cpus)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    nbgrader = Check("ours (warm) ÷ `nbgrader autograde`", widest.warm_wall / nbgrader_wall, NBGRADER_TARGET,
                     strictly_below=True)
    print(f"\nnbgrader autograde of the reference on {widest.label}: {nbgrader_wall:.2f} s")
    print_verdicts(settings, widest, nbgrader)
    print_markdown(settings, widest, nbgrader_wall, nbgrader)
    load_after = os.getloadavg()
    print(f"\nload average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (this run's own load included)")
    if load_before[0] > QUIET_LOAD:
        print(f"WARNING: the machine was busy when the run began (1-minute load {load_before[0]:.2f} > {QUIET_LOAD}): "
              "these figures are not for the README.")


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
