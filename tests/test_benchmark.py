"""The benchmark's arithmetic: each ratio weighs a round's gradings against the floor of the same round, a class's
cost per submission and fixed cost come from two class sizes, a profile sums what the gradings wrote, and a run on a
busy machine is flagged (benchmarks/; its timings themselves are never tested)."""

import json
import os
import sys
from pathlib import Path

import pytest

from benchmarks import grading_speed as benchmark
from benchmarks import grading_profile, measure
from benchmarks.classes import ClassFit
from benchmarks.student_loop import StudentLoop

LOOP = StudentLoop(fresh=[6.0], first=[6.0], part3=[2.0], whole=[9.0, 5.0], idle_mb=400.0, own_pytest=[2.0, 2.2],
                   own_check=[2.0, 2.0])


def two_rounds(floors: tuple[float, float], walls: tuple[float, float], jobs: int = 2) -> benchmark.Setting:
    """A Setting of two rounds whose gradings take ``walls`` (s) against ``floors`` (s), and whose classes of 2 and 12
    take 10 and 40 s."""
    rounds = [benchmark.Round(floor, measure.Run(wall, 600.0, 600.0), measure.Run(wall, 600.0, 600.0),
                              measure.Run(10.0, 900.0, 600.0), measure.Run(40.0, 1300.0, 600.0))
              for floor, wall in zip(floors, walls)]
    return benchmark.Setting({0, 1}, jobs, (2, 12), rounds, LOOP, grading_profile.Profile())


def ratio(setting: object, name: str) -> float:
    return next(check.value for check in setting.checks() if check.name == name)


def test_a_grading_is_weighed_against_the_floors_of_its_own_rounds() -> None:
    """grade ÷ floor is the rounds' gradings summed over their floors summed, not the least floor's share."""
    setting = two_rounds(floors=(6.0, 8.0), walls=(7.5, 9.5))
    assert ratio(setting, "grade ÷ floor, warm") == pytest.approx((7.5 + 9.5) / (6.0 + 8.0))


def test_a_class_costs_its_slope_per_submission_and_its_intercept_once() -> None:
    """Classes of 2 and 12 on 2 jobs taking 10 and 40 s: a submission costs a core (40 - 10) / 10 x 2 = 6 s, and the
    class 10 - 6 x 2 / 2 = 4 s whatever its size."""
    fit = ClassFit(2, 12, 2, [measure.Run(10.0, 0, 0)], [measure.Run(40.0, 0, 0)], [8.0])
    assert (fit.per_submission, fit.fixed) == pytest.approx((6.0, 4.0))
    assert fit.to_floor() == pytest.approx((6.0 / 8.0, 4.0 / 8.0))


def test_a_first_check_is_weighed_against_the_fresh_checks() -> None:
    """first check ÷ a fresh process's is the first checks' sum over the fresh checks' sum."""
    loop = StudentLoop(fresh=[6.0, 7.0], first=[6.5, 7.0], part3=[2.0], whole=[9.0, 5.0], idle_mb=400.0,
                       own_pytest=[2.0], own_check=[2.0])
    check = next(check for check in loop.checks() if check.name == "first check ÷ a fresh process's")
    assert check.value == pytest.approx(13.5 / 13.0)


def test_a_students_pytest_is_weighed_against_check_round_by_round() -> None:
    """pytest autograder/ ÷ check is the sum of the one's rounds over the other's."""
    assert next(c.value for c in LOOP.checks() if "pytest" in c.name) == pytest.approx(4.2 / 4.0)


def test_a_profile_sums_what_each_grading_wrote(tmp_path: Path) -> None:
    """Two gradings' profiles give their phases and spending summed, and per grading their mean."""
    for index in range(2):
        (tmp_path / f"s{index}-1.json").write_text(json.dumps({
            "phases": {"configured": 0.1, "checked": 6.1, "finished": 6.3},
            "checks": [{"part": "Part 1: linear regression", "checks": "model", "seconds": 2.0}],
            "student": [["train_mlp (mlp_training_run)", "training", 2.5], ["sigmoid", "start", 0.1]],
            "reference": [["train_mlp (mlp_training_run)", "training", 0.2]]}))
    read = grading_profile.read(tmp_path)
    assert read.gradings == 2 and read.per_grading(read.phases["finished"]) == pytest.approx(6.3)
    assert read.spent[("student", "training")] == pytest.approx(5.0)
    assert read.trainings[("student", "train_mlp (mlp_training_run)")] == [2.5, 2.5]
    assert any("grader's own" in line for line in grading_profile.lines(read))


@pytest.mark.parametrize(("load", "steal"), [(0.9, 0.0), (0.1, 0.05)])
def test_a_run_on_a_busy_machine_is_flagged(load: float, steal: float) -> None:
    """A load when the run began, or CPU time the hypervisor took, marks the figures as not for the documentation."""
    assert measure.busy_warnings(load, steal)


def test_a_run_on_a_quiet_machine_is_not_flagged() -> None:
    """No load and no steal: no warning."""
    assert measure.busy_warnings(0.1, 0.0) == []


def test_steal_is_the_hypervisors_share_of_the_cpu_time_between_two_readings() -> None:
    """/proc/stat's eighth field (steal) over all eight fields' growth."""
    before = [100, 0, 50, 1000, 0, 0, 0, 10]
    after = [200, 0, 100, 1800, 0, 0, 0, 60]
    assert measure.steal_share(before, after) == pytest.approx(50 / (100 + 50 + 800 + 50))


@pytest.mark.parametrize("module", sorted(path.stem for path in Path(benchmark.__file__).parent.glob("*.py")))
def test_no_module_of_the_benchmark_shadows_the_standard_library(module: str) -> None:
    """grading_speed.py runs as a script, with benchmarks/ first on sys.path: a module named as one of the standard
    library's (profile.py did) replaces it for torch and everything else the floor imports."""
    assert module not in sys.stdlib_module_names


def test_a_command_that_fails_stops_the_benchmark() -> None:
    """A timed command that exits with a code the benchmark does not expect ends the run, not a figure."""
    with pytest.raises(SystemExit, match="raised"):
        measure.measure([sys.executable, "-c", "raise SystemExit('raised')"], set(os.sched_getaffinity(0)),
                        sampled=False, succeeded=(0,))
