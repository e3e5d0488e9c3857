"""Measuring a command: its wall time and the peak memory of its process tree, pinned to CPUs; and whether the machine
was quiet enough for the figures to count.

Memory is PSS (proportional set size), summed over the processes of a tree and sampled every
0.05 s, or less often where reading it would take more than a tenth of a CPU: a grading's
processes fork from one another and share pages, which a sum of resident sizes would count twice.
"""

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SAMPLE_SECONDS = 0.05
# The most of one CPU the memory sampling may take: reading PSS costs milliseconds per process,
# and a class run has a dozen.
SAMPLING_SHARE = 0.1
# The 1-minute load average above which the machine is not quiet enough for the documentation's figures, and the
# share of its CPU time that the hypervisor may give other machines during the run.
QUIET_LOAD = 0.5
QUIET_STEAL = 0.02


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
            sampled: bool = True, succeeded: tuple[int, ...] = (0, 1)) -> Run:
    """Run ``command`` on ``cpus``, sampling its processes' memory until it exits (unless not ``sampled``: the floor
    is timed alone); the benchmark stops where its exit code is not one of ``succeeded`` (a grading's 1 says a check
    failed, which a checked stub does; a plain Python's 1 says it raised)."""
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
    if process.returncode not in succeeded:
        sys.exit(f"{shlex.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Run(wall, *peaks)


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
