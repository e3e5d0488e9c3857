"""How fast grading is and how much memory it takes, against what cannot be avoided: every figure of issue 13.

    python benchmarks/grading_speed.py [--cpus 2,1] [--class-size 20] [--jobs J]

All in one run, on this machine (Linux: it reads /proc and pins processes to CPUs), with the
reference notebooks as the submission. For each CPU setting of ``--cpus`` (by default all the
machine's CPUs, then one), every process the benchmark starts is pinned to the first n CPUs it may use:

- floor: a fresh ``python -c "import torch, sklearn"`` (median of 3), plus the lecture's three
  training runs (two linear regressions, the Iris MLP) done once with the reference functions;
- one grading, ``python -m autograder grade`` (what Gradescope runs): wall time and peak memory
  of all its processes together,
  first with a fresh, empty cache folder (cold: nothing kept from an earlier run), then the
  median of the next 3 runs, which find what the first kept (warm);
- a class of N copies with ``python -m autograder grade-all --jobs J``, J = n unless given: wall
  time against N × floor ÷ J, and peak memory of one job slot (a direct child of grade-all with
  all its processes) and of the whole.

Then once, on the most CPUs of the run: ``nbgrader autograde`` of the same submission, the peer.

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


def measure(command: list[str], cpus: set[int], cwd: Path = REPO_ROOT, env: dict | None = None) -> Run:
    """Run ``command`` on ``cpus``, sampling its processes' memory until it exits."""
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
    watcher.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    finished.set()
    watcher.join()
    if process.returncode not in (0, 1):
        sys.exit(f"{shlex.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Run(wall, *peaks)


def lecture_trainings() -> float:
    """Seconds for the lecture's three training runs with the reference functions, in this process."""
    from autograder.suite import probes
    from autograder.boundary.notebook import Submission, read_submission

    reference = Submission(read_submission(REFERENCE_DIR, "reference"), "reference")
    reference.notebook("01_linear_regression.ipynb"), reference.notebook("02_iris_mlp.ipynb")
    linear = {"seed": 1, "batch_size": 1, "learning_rate": 0.001, "num_epochs": 200}
    started = time.perf_counter()
    probes.linear_regression_run(reference, **linear)
    probes.nn_regression_run(reference, replay_epochs=200, **linear)
    probes.mlp_training_run(reference, seed=1, batch_size=2, optimizer="adam", learning_rate=0.001,
                            num_epochs=100, device="cpu", students_model=True)
    return time.perf_counter() - started


def nbgrader_autograde(scratch: Path, cpus: set[int]) -> float:
    """Wall time of ``nbgrader autograde`` of the reference on ``cpus``, in a temporary course."""
    course = scratch / "course"
    shutil.copytree(REFERENCE_DIR, course / "source" / ASSIGNMENT_ID)
    shutil.copytree(REFERENCE_DIR, course / "submitted" / "student" / ASSIGNMENT_ID)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 600\n")
    # A cache folder of its own, so that the notebooks' runs write nothing into the user's.
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache")}
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
    megabytes: bool = False
    strictly_below: bool = False

    @property
    def verdict(self) -> str:
        meets = self.value < self.target if self.strictly_below else self.value <= self.target
        return "meets" if meets else "misses"

    @property
    def value_text(self) -> str:
        return f"{self.value:.0f} MB" if self.megabytes else f"{self.value:.2f}"

    @property
    def target_text(self) -> str:
        target = f"{self.target:.0f} MB" if self.megabytes else f"{self.target:.1f}"
        return f"{'<' if self.strictly_below else '≤'} {target}"


@dataclass
class Setting:
    """The figures measured with every process pinned to ``cpus``."""

    cpus: set[int]
    jobs: int
    class_size: int
    imports: list[float]
    trainings: float
    cold: Run
    warm: list[Run]
    graded_class: Run

    @property
    def label(self) -> str:
        return f"{len(self.cpus)} CPU{'s' if len(self.cpus) > 1 else ''}"

    @property
    def jobs_text(self) -> str:
        return f"{self.jobs} job{'s' if self.jobs > 1 else ''}"

    @property
    def floor(self) -> float:
        return statistics.median(self.imports) + self.trainings

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
            ("floor: `import torch, sklearn` + the three trainings",
             f"{statistics.median(self.imports):.2f} s + {self.trainings:.2f} s = {self.floor:.2f} s"),
            ("grading the reference, cold (empty cache)", f"{self.cold.wall:.2f} s, peak PSS {self.cold.peak_mb:.0f} MB"),
            (f"grading the reference, warm (median of {REPEATS}; peak: largest)",
             f"{self.warm_wall:.2f} s ({warm_walls}), peak PSS {self.warm_peak_mb:.0f} MB"),
            (f"class of {self.class_size} with `grade-all`",
             f"{self.graded_class.wall:.2f} s on {self.jobs_text} (N × floor ÷ J = {self.class_ideal:.2f} s), "
             f"peak PSS {self.graded_class.peak_mb:.0f} MB"),
        ]

    def checks(self) -> list[Check]:
        """Each figure that has a target."""
        allowed = grade_floor_target(len(self.cpus))
        return [
            Check("grade ÷ floor, cold", self.cold.wall / self.floor, allowed),
            Check("grade ÷ floor, warm", self.warm_wall / self.floor, allowed),
            Check("class ÷ (N × floor ÷ J)", self.graded_class.wall / self.class_ideal, CLASS_TARGET),
            Check("peak PSS of one grading, cold", self.cold.peak_mb, MEMORY_TARGET_MB, megabytes=True),
            Check("peak PSS of one grading, warm", self.warm_peak_mb, MEMORY_TARGET_MB, megabytes=True),
            Check("peak PSS of one job slot of the class", self.graded_class.slot_peak_mb, MEMORY_TARGET_MB,
                  megabytes=True),
        ]


def measure_setting(cpus: set[int], jobs: int, submitted: Path, class_size: int, scratch: Path) -> Setting:
    """All figures of one CPU setting, with the class of ``class_size`` under ``submitted``; ``scratch`` is its own."""
    imports = [measure([PYTHON, "-c", "import torch, sklearn"], cpus).wall for _ in range(REPEATS)]
    # The floor runs with the user's own caches (matplotlib's font list): they are not the grader's to keep.
    trainings = float(subprocess.run([PYTHON, __file__, "--trainings"], capture_output=True, text=True, check=True,
                                     preexec_fn=pinned(cpus)).stdout)
    # A cache folder of this setting's own, fresh and empty, so that its first grading is cold;
    # the class then finds it as an instructor's later runs do.
    (scratch / "cache").mkdir(parents=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache")}
    cold = measure(GRADE, cpus, env=env)
    warm = [measure(GRADE, cpus, env=env) for _ in range(REPEATS)]
    graded_class = measure([PYTHON, "-m", "autograder", "grade-all", str(submitted), "--out", str(scratch / "graded"),
                            "--jobs", str(jobs)], cpus, env=env)
    return Setting(cpus, jobs, class_size, imports, trainings, cold, warm, graded_class)


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
    parser.add_argument("--trainings", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trainings:
        print(lecture_trainings())
        return
    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        submitted = scratch / "submitted"
        for index in range(args.class_size):
            shutil.copytree(REFERENCE_DIR, submitted / f"student{index:03d}" / ASSIGNMENT_ID)
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


if __name__ == "__main__":
    main()
