"""The options of a grading run (``pytest autograder/ --help`` lists them under "autograder")."""

from pathlib import Path

import pytest

from autograder.boundary.isolation import Limits
from autograder.contract import PARTS, REFERENCE_DIR, RELEASE_DIR


def add_options(parser: pytest.Parser) -> None:
    """The grading run's options, in their own group of ``pytest --help``."""
    group = parser.getgroup("autograder")
    group.addoption(
        "--submission", type=Path, default=RELEASE_DIR,
        help="folder of the notebooks to grade (default: assignments/pytorch_nn)",
    )
    group.addoption(
        "--reference", type=Path, default=REFERENCE_DIR,
        help="folder of the reference notebooks (default: solutions/pytorch_nn); "
        "checks that compare with it are skipped where it is absent",
    )
    group.addoption("--results", type=Path, default=None, help="write the grades to this results.json")
    group.addoption(
        "--part", action="append", choices=sorted(PARTS), default=None,
        help="grade only this part (repeat for several; default: every part)",
    )
    group.addoption(
        "--device", choices=("auto", "cpu", "cuda"), default="auto",
        help="where to train the MLP: auto is the GPU when one is present, else the CPU",
    )
    defaults = Limits()
    group.addoption("--call-timeout", type=float, default=defaults.call_seconds,
                    help="seconds one call of a student's function may take (default: %(default)s)")
    group.addoption("--training-timeout", type=float, default=defaults.training_seconds,
                    help="seconds one training run of student code may take (default: %(default)s)")
    group.addoption("--submission-timeout", type=float, default=defaults.submission_seconds,
                    help="seconds all of one submission's code may take together (default: %(default)s)")
    group.addoption("--memory-limit", type=int, default=defaults.memory_mb,
                    help="megabytes of memory each worker running student code may hold, whatever it starts "
                    "included; 0 for no cap (default: %(default)s)")
    group.addoption("--reply-limit", type=float, default=defaults.reply_bytes / 2**20,
                    help="megabytes the grader takes from student code in one reply (default: %(default)s)")
    group.addoption("--sandbox", choices=("auto", "namespaces", "user", "off"), default="auto",
                    help="how to confine student code: auto takes the strongest this machine allows, Linux "
                    "namespaces, else a user of its own (as root); off runs it as a plain process (default: auto)")
    group.addoption("--no-early-runs", action="store_true",
                    help="run every check in turn, none beside the others (as grade-all's job slots do: they keep "
                    "every core busy already); the default starts the longest training run at once where this "
                    "process may use more than one CPU")
    group.addoption("--reference-cache", type=Path, default=None,
                    help="a folder where the reference's answers are kept for later gradings (grade-all gives its "
                    "class's, which student code cannot reach); default: none, every answer computed")
    group.addoption("--require-confinement", action="store_true",
                    help="stop, rather than grade, where student code cannot be confined")
    group.addoption("--allow-unconfined", action="store_true",
                    help="grade with the reference present even where student code cannot be confined (then any "
                    "submission could read the reference or forge its grade); without it such a grading stops")
    group.addoption("--protect", type=Path, action="append", default=[],
                    help="a folder student code must not read, besides the reference "
                    "(e.g. the class's submissions); repeat for several")
