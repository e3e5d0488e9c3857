"""The graded tests' examples depend on nothing but the grader's settings: not on which of its modules a grading has
loaded (a warm checker, a job slot of grade-all, a fresh process, an installed copy)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suite.strategies import EDGES, values_from_bytes

# Draws as the graded tests make them (a seed, a float), many more than a grading's ten, under the grading's
# settings, after importing the module named on the command line, if any.
DRAW = """
import json, sys
from hypothesis import given, settings, strategies as st
import autograder.conftest  # the grading's hypothesis profile, and its rules
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])
    import constants_module
drawn = []
@settings(max_examples=300)
@given(seed=st.integers(0, 2**16), shift=st.floats(-50, 50, width=32), size=st.integers(1, 8))
def draw(seed, shift, size):
    drawn.append([seed, shift, size])
draw()
print(json.dumps(drawn))
"""


@pytest.fixture
def local_module(tmp_path: Path) -> Path:
    """A folder holding constants_module.py: a module outside site-packages, full of numbers a grading could draw."""
    folder = tmp_path / "local"
    folder.mkdir()
    numbers = ", ".join(str(7 + 211 * index) for index in range(300))
    (folder / "constants_module.py").write_text(f"NUMBERS = [{numbers}]\nSHIFTS = [1.25, -3.5, 17.75, 42.0]\n")
    return folder


def draws(cwd: Path, *module_folder: Path) -> list[list[float]]:
    """The examples drawn in a fresh Python in ``cwd``, with the module in ``module_folder`` loaded first if given."""
    completed = subprocess.run([sys.executable, "-c", DRAW, *map(str, module_folder)], cwd=cwd, capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout)


def test_a_loaded_module_changes_no_example(tmp_path: Path, local_module: Path) -> None:
    """The same examples are drawn whether or not another local module, with constants of its own, is loaded."""
    assert draws(tmp_path, local_module) == draws(tmp_path)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400).map(lambda raw: raw[:len(raw) - len(raw) % 4]),
       bound=st.sampled_from([1.0, 20.0, 1e4]))
def test_values_from_bytes_are_finite_float32_within_the_bound(data: bytes, bound: float) -> None:
    """Whatever the bytes, each value drawn from them is a finite float32 in [-bound, bound]."""
    values = values_from_bytes(data, bound)
    assert values.dtype == np.float32 and values.shape == (len(data) // 4,)
    assert np.isfinite(values).all() and (np.abs(values) <= bound).all()


def test_values_from_bytes_of_zero_are_zeros() -> None:
    """Bytes of zero, where hypothesis's shrinking heads, give +0.0: a failing example shrinks towards zeros."""
    values = values_from_bytes(bytes(4 * 6), 20.0)
    assert (values == 0).all() and not np.signbit(values).any()


def test_values_from_bytes_reach_the_edges() -> None:
    """Every edge value (zero, both bounds, tiny and subnormal values) is drawn from some four bytes."""
    every_word = np.arange(2**16, dtype=">u4") * 2**16 + np.arange(2**16, dtype=">u4") % 251
    values = set(values_from_bytes(every_word.tobytes(), 20.0).tolist())
    edges = {float(np.float32(value)) for value in (*EDGES, 20.0, -20.0)}
    assert edges <= values
