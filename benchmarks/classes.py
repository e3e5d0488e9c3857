"""A class graded as an instructor grades it, and what it costs: per submission and fixed, from two class sizes.

A class of N graded on J jobs takes about ``fixed + N × per_submission ÷ J``: grade-all's own start,
its job slots' imports and the class report are paid once, each submission's grading once per
submission, on one job. Two sizes graded in the same round give both: the slope times J is what one
submission costs a core, the intercept what the class costs whatever its size.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR
from benchmarks.measure import Run


def different_submissions(submitted: Path, count: int) -> None:
    """``count`` correct submissions under ``submitted``, no two alike where there are enough: the reference, then
    each correct variant of tests/test_correct_variants.py, in turn (copies of one would flatter any cache keyed on
    code)."""
    from tests.test_correct_variants import VARIANTS, variant_submission

    kinds = [None, *sorted(VARIANTS)]
    for index in range(count):
        folder = submitted / f"student{index:03d}" / ASSIGNMENT_ID
        kind = kinds[index % len(kinds)]
        if kind is None:
            shutil.copytree(REFERENCE_DIR, folder)
        else:
            variant_submission(VARIANTS[kind], folder)


@dataclass
class ClassFit:
    """Classes of ``small`` and ``large`` submissions graded on ``jobs`` jobs, a pair per round, against each round's
    floor (s)."""

    small: int
    large: int
    jobs: int
    smalls: list[Run]
    larges: list[Run]
    floors: list[float]

    @property
    def per_submission(self) -> float:
        """What one submission costs a core, in s: the slope of the class's time over its size, times the jobs."""
        slope = sum(big.wall - little.wall for big, little in zip(self.larges, self.smalls)) / (
            len(self.larges) * (self.large - self.small))
        return slope * self.jobs

    @property
    def fixed(self) -> float:
        """What a class costs whatever its size, in s: the time of the small classes less their submissions'."""
        return sum(run.wall for run in self.smalls) / len(self.smalls) - self.per_submission * self.small / self.jobs

    @property
    def floor(self) -> float:
        return sum(self.floors) / len(self.floors)

    def to_floor(self) -> tuple[float, float]:
        """Per submission per core, and fixed, each over the rounds' mean floor."""
        return self.per_submission / self.floor, self.fixed / self.floor
