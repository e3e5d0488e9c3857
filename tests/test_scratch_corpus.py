"""Correct from-scratch activations as people write them in public code keep full marks: the judge is fair to them.

The corpus (tests/scratch_corpus.py, each entry with its origin) is judged entry by entry, in milliseconds;
then graded as an instructor grades a class (``grade-all``, the reference present, Part 3 only): each
submission is the reference notebooks with one corpus entry in place of each activation's answer cell, so
every entry is graded, and no check may cost one a point.
"""

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.boundary.notebook import Cell
from autograder.contract import ASSIGNMENT_ID, FROM_SCRATCH, REFERENCE_DIR
from autograder.suite.scratch import Verdict, judge
from tests.conftest import grade_class
from tests.scratch_corpus import CORPUS

ACTIVATIONS = "03_activations.ipynb"
# What the tanh entries of the corpus call: every submission has a sigmoid of its own.
STABLE_SIGMOID = """
import torch

def sigmoid(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
"""


def test_the_corpus_holds_at_least_thirty_entries_of_every_activation():
    """At least thirty entries, and each of the four activations among them."""
    assert len(CORPUS) >= 30 and {entry.activation for entry in CORPUS.values()} == set(FROM_SCRATCH)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_judge_refuses_no_entry(name):
    """The entry, in a notebook of its own (with a sigmoid beside it, which tanh may use), is judged allowed."""
    entry = CORPUS[name]
    cells = [Cell(f"{ACTIVATIONS}, code cell {i}", source) for i, source in enumerate((STABLE_SIGMOID, entry.source), 1)]
    assert judge(cells, entry.activation) == Verdict()


def submissions() -> list[dict[str, str]]:
    """The corpus as few submissions as hold every entry: the i-th of each activation's entries in the i-th, the
    reference's own answer where an activation has fewer entries."""
    by_activation = {name: [key for key, entry in CORPUS.items() if entry.activation == name] for name in FROM_SCRATCH}
    count = max(len(keys) for keys in by_activation.values())
    return [{name: keys[i] for name, keys in by_activation.items() if i < len(keys)} for i in range(count)]


def corpus_submission(entries: dict[str, str], folder: Path) -> None:
    """The reference notebooks, each activation's answer cell in 03_activations.ipynb replaced by its entry's code."""
    path = folder / ACTIVATIONS
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in entries:
            cell.source = CORPUS[entries[grade_id]].source
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory) -> dict[str, dict]:
    """Every corpus submission graded with grade-all, Part 3 only; each one's results by submission."""
    root = tmp_path_factory.mktemp("corpus")
    for index, entries in enumerate(submissions()):
        folder = root / "submitted" / f"corpus_{index:02d}" / ASSIGNMENT_ID
        shutil.copytree(REFERENCE_DIR, folder)
        corpus_submission(entries, folder)
    return grade_class(root, "--part", "Part 3: activation functions")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_entry_keeps_full_marks(name, corpus_results):
    """No check of the activation costs the entry a point."""
    index = next(i for i, entries in enumerate(submissions()) if name in entries.values())
    tests = corpus_results[f"corpus_{index:02d}"]["tests"]
    activation = CORPUS[name].activation
    lost = [(t["test"], t["output"][:300]) for t in tests
            if t["extra_data"]["checks"] == activation and t["score"] != t["max_score"]]
    assert not lost, lost
