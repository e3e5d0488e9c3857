"""How fast grading is, against what cannot be avoided: prints figures and the four ratios of issue 6.

    python benchmarks/grading_speed.py [--class-size 20] [--jobs N]

All in one run, on this machine, with the reference notebooks as the submission:

- floor: a fresh ``python -c "import torch, sklearn"``, plus the lecture's three training
  runs (two linear regressions, the Iris MLP) done once with the reference functions;
- one grading, ``pytest autograder/``: wall time and peak memory of all its processes
  together, first with an empty reference cache (cold), then as every later run finds it (warm);
- a class of N copies with ``python -m autograder grade-all`` on every core;
- ``nbgrader autograde`` of the same submission, the peer.

Timings on shared machines are noisy: compare figures from one run, not across runs.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR  # noqa: E402

TARGETS = {"grade / floor": 1.5, "class / ideal": 1.15, "ours / nbgrader autograde": 1.0}
MEMORY_TARGET_MB = 768
# The short measurements (the import, one grading) are taken this many times; the median counts.
REPEATS = 3


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB (Linux's /proc)."""
    parents, rss = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields["PPid"])
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in tree) / 1024


def measure(command: list[str], cwd: Path = REPO_ROOT, env: dict | None = None) -> tuple[float, float]:
    """Run ``command``; return its wall time in seconds and the peak memory of its process tree in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, output = 0.0, []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()))
    reader.start()
    while process.poll() is None:
        if sys.platform.startswith("linux"):
            peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    reader.join()
    if process.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{output[0][-3000:]}")
    return wall, peak


def lecture_trainings() -> float:
    """Seconds for the lecture's three training runs with the reference functions, in this process."""
    from autograder.suite import probes
    from autograder.boundary.notebook import Submission

    reference = Submission(REFERENCE_DIR, "reference")
    reference.notebook("01_linear_regression.ipynb"), reference.notebook("02_iris_mlp.ipynb")
    linear = {"seed": 1, "batch_size": 1, "learning_rate": 0.001, "num_epochs": 200}
    started = time.perf_counter()
    probes.linear_regression_run(reference, **linear)
    probes.nn_regression_run(reference, replay_epochs=200, **linear)
    probes.mlp_training_run(reference, seed=1, batch_size=2, optimizer="adam", learning_rate=0.001,
                            num_epochs=100, device="cpu", students_model=True)
    return time.perf_counter() - started


def nbgrader_autograde(scratch: Path, env: dict) -> float:
    """Wall time of ``nbgrader autograde`` of the reference, in a temporary course."""
    course = scratch / "course"
    shutil.copytree(REFERENCE_DIR, course / "source" / ASSIGNMENT_ID)
    shutil.copytree(REFERENCE_DIR, course / "submitted" / "student" / ASSIGNMENT_ID)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 600\n")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", ASSIGNMENT_ID], cwd=course, env=env, check=True,
                   capture_output=True)
    wall, _ = measure([*nbgrader, "autograde", ASSIGNMENT_ID], cwd=course, env=env)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--trainings", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trainings:
        print(lecture_trainings())
        return
    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    # A cache of the reference's replies of its own, so that the cold run is cold.
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache")}
    python = sys.executable
    try:
        import_wall = statistics.median(measure([python, "-c", "import torch, sklearn"])[0] for _ in range(REPEATS))
        trainings = float(subprocess.run([python, __file__, "--trainings"], capture_output=True, text=True,
                                         check=True, env=env).stdout)
        floor = import_wall + trainings
        grade = [python, "-m", "pytest", "autograder/", "-p", "no:cacheprovider", "-q",
                 "--submission", str(REFERENCE_DIR)]
        cold_wall, cold_peak = measure(grade, env=env)
        warm = [measure(grade, env=env) for _ in range(REPEATS)]
        warm_wall, warm_peak = statistics.median(w for w, _ in warm), max(p for _, p in warm)
        submitted = scratch / "submitted"
        for index in range(args.class_size):
            shutil.copytree(REFERENCE_DIR, submitted / f"student{index:03d}" / ASSIGNMENT_ID)
        class_wall, _ = measure([python, "-m", "autograder", "grade-all", str(submitted), "--out",
                                 str(scratch / "graded"), "--jobs", str(args.jobs)], env=env)
        nbgrader_wall = nbgrader_autograde(scratch, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ideal = args.class_size * warm_wall / args.jobs
    ratios = {
        "grade / floor": warm_wall / floor,
        "class / ideal": class_wall / ideal,
        "ours / nbgrader autograde": warm_wall / nbgrader_wall,
    }
    print(f"floor: import torch, sklearn {import_wall:.2f} s (median of {REPEATS}) + the lecture's three trainings {trainings:.2f} s"
          f" = {floor:.2f} s")
    print(f"grading the reference: cold cache {cold_wall:.2f} s, peak {cold_peak:.0f} MB; warm cache "
          f"{warm_wall:.2f} s (median of {', '.join(f'{w:.2f}' for w, _ in warm)}), peak {warm_peak:.0f} MB")
    print(f"class of {args.class_size} on {args.jobs} jobs: {class_wall:.2f} s (ideal {ideal:.2f} s)")
    print(f"nbgrader autograde of the reference: {nbgrader_wall:.2f} s")
    for name, ratio in ratios.items():
        verdict = "meets" if ratio <= TARGETS[name] else "misses"
        print(f"{name:<28} {ratio:5.2f}   ({verdict} the target {TARGETS[name]})")
    verdict = "meets" if warm_peak <= MEMORY_TARGET_MB else "misses"
    print(f"{'peak memory (warm)':<28} {warm_peak:5.0f} MB ({verdict} the target {MEMORY_TARGET_MB} MB)")


if __name__ == "__main__":
    main()
