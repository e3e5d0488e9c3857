"""The benchmark's arithmetic: each ratio weighs a round's gradings against the floor of the same round, and a run on a
busy machine is flagged (benchmarks/grading_speed.py; its timings themselves are never tested)."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "grading_speed.py"


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    """benchmarks/grading_speed.py as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location("grading_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def two_rounds(benchmark: ModuleType, floors: tuple[float, float], walls: tuple[float, float],
               class_size: int = 8, jobs: int = 2) -> object:
    """A Setting of two rounds whose cold, warm and class runs all take ``walls`` (s) against ``floors`` (s)."""
    rounds = [benchmark.Round(floor, *[benchmark.Run(wall, 600.0, 600.0)] * 3) for floor, wall in zip(floors, walls)]
    student = benchmark.StudentLoop(fresh=[6.0], first=[6.0], part3=[2.0], whole=[9.0, 5.0], idle_mb=400.0)
    return benchmark.Setting({0, 1}, jobs, class_size, rounds, student)


def ratio(setting: object, name: str) -> float:
    return next(check.value for check in setting.checks() if check.name == name)


def test_a_grading_is_weighed_against_the_floors_of_its_own_rounds(benchmark: ModuleType) -> None:
    """grade ÷ floor is the rounds' gradings summed over their floors summed, not the least floor's share."""
    setting = two_rounds(benchmark, floors=(6.0, 8.0), walls=(7.5, 9.5))
    assert ratio(setting, "grade ÷ floor, warm") == pytest.approx((7.5 + 9.5) / (6.0 + 8.0))


def test_a_class_is_weighed_against_n_floors_over_j_jobs(benchmark: ModuleType) -> None:
    """class ÷ (N × floor ÷ J) sums each round's class over N × that round's floor ÷ J."""
    setting = two_rounds(benchmark, floors=(6.0, 8.0), walls=(30.0, 40.0), class_size=8, jobs=2)
    assert ratio(setting, "class ÷ (N × floor ÷ J)") == pytest.approx((30.0 + 40.0) / (8 / 2 * (6.0 + 8.0)))


def test_a_first_check_is_weighed_against_the_fresh_checks(benchmark: ModuleType) -> None:
    """first check ÷ a fresh process's is the first checks' sum over the fresh checks' sum."""
    loop = benchmark.StudentLoop(fresh=[6.0, 7.0], first=[6.5, 7.0], part3=[2.0], whole=[9.0, 5.0], idle_mb=400.0)
    check = next(check for check in loop.checks() if check.name == "first check ÷ a fresh process's")
    assert check.value == pytest.approx(13.5 / 13.0)


@pytest.mark.parametrize(("load", "steal"), [(0.9, 0.0), (0.1, 0.05)])
def test_a_run_on_a_busy_machine_is_flagged(benchmark: ModuleType, load: float, steal: float) -> None:
    """A load when the run began, or CPU time the hypervisor took, marks the figures as not for the README."""
    assert benchmark.busy_warnings(load, steal)


def test_a_run_on_a_quiet_machine_is_not_flagged(benchmark: ModuleType) -> None:
    """No load and no steal: no warning."""
    assert benchmark.busy_warnings(0.1, 0.0) == []


def test_steal_is_the_hypervisors_share_of_the_cpu_time_between_two_readings(benchmark: ModuleType) -> None:
    """/proc/stat's eighth field (steal) over all eight fields' growth."""
    before = [100, 0, 50, 1000, 0, 0, 0, 10]
    after = [200, 0, 100, 1800, 0, 0, 0, 60]
    assert benchmark.steal_share(before, after) == pytest.approx(50 / (100 + 50 + 800 + 50))
