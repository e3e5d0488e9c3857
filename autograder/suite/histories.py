"""What a training loop's history should be at learning rate 0, and what the usual mistakes make of it.

At learning rate 0 the parameters never move, so each epoch's loss (or accuracy) is the whole training
set's. The grader draws the order of the batches from a generator it seeded itself, so it knows every
batch the loop sees and can compute, besides the right history, the histories of the usual mistakes
(the last batch alone, batches weighed alike, a sum never divided); it names a mistake only where the
history observed is exactly that mistake's, and otherwise says what was expected and what came.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import TensorDataset

from autograder.suite.checks import assert_close
from autograder.suite.probes import shuffled


@dataclass(frozen=True)
class Batch:
    """One batch as the loop sees it: its size, and its mean loss or its count of right predictions."""

    size: int
    value: float


Epoch = list[Batch]
# What a mistake makes of an epoch's loss (batches' mean losses) or accuracy (batches' counts), and how it is said.
LOSS_MISTAKES: list[tuple[str, Callable[[Epoch], float]]] = [
    ("These are the last batch's loss alone: every batch's loss belongs in the epoch's total.",
     lambda epoch: epoch[-1].value),
    ("These are the mean of the batches' losses, each batch weighed alike, though they differ in size: weigh each "
     "batch's loss by its number of examples, then divide by the data set's size.",
     lambda epoch: sum(b.value for b in epoch) / len(epoch)),
    ("These are the sum of each batch's loss times its size, never divided by the data set's size.",
     lambda epoch: sum(b.value * b.size for b in epoch)),
    ("These are the sum of the batches' losses: weigh each by its number of examples and divide by the data set's "
     "size.", lambda epoch: sum(b.value for b in epoch)),
    ("These are the batches' losses added up, then divided by the data set's size: each batch's loss is already a "
     "mean over its examples, so weigh it by their number first.",
     lambda epoch: sum(b.value for b in epoch) / sum(b.size for b in epoch)),
]
ACCURACY_MISTAKES: list[tuple[str, Callable[[Epoch], float]]] = [
    ("These are counts of right predictions, never divided by the data set's size.",
     lambda epoch: sum(b.value for b in epoch)),
    ("These are the last batch's fraction of right predictions alone: count every batch's.",
     lambda epoch: epoch[-1].value / epoch[-1].size),
    ("These are the mean of the batches' fractions, each batch weighed alike, though they differ in size: count the "
     "right predictions of every batch, then divide by the data set's size.",
     lambda epoch: sum(b.value / b.size for b in epoch) / len(epoch)),
]


def batches(dataset: TensorDataset, batch_size: int, order_seed: int, epochs: int) -> list[list[tuple[torch.Tensor, ...]]]:
    """The batches a loop that goes once through the lecture's shuffled DataLoader per epoch sees, epoch by epoch:
    the DataLoader the worker's probe builds, from the same seed."""
    loader = shuffled(dataset, batch_size, order_seed)
    return [list(loader) for _ in range(epochs)]


def expect_history(observed: list[float], epochs: list[Epoch], what: str, counts: bool = False) -> None:
    """Fail unless ``observed`` (one float per epoch) is each epoch's whole-data loss (batches' mean losses weighed by
    size), or with ``counts`` its accuracy (right predictions over the data set's size); say which mistake it is
    where it is exactly one."""
    total = sum(batch.size for batch in epochs[0])
    right = [sum(b.value * (1 if counts else b.size) for b in epoch) / total for epoch in epochs]
    if close(observed, right):
        return
    message = (f"At learning rate 0 the parameters never move, so each epoch's {what} is the whole training set's: "
               f"it should be {rounded(right)}, not {rounded(observed)}.")
    for said, mistake in ACCURACY_MISTAKES if counts else LOSS_MISTAKES:
        if close(observed, [mistake(epoch) for epoch in epochs]):
            message += f" {said}"
            break
    raise AssertionError(message)


def close(observed: list[float], expected: list[float]) -> bool:
    try:
        # float32, as a history of loss.item() is computed: the tolerances the check always had.
        assert_close(torch.tensor(observed, dtype=torch.float32), torch.tensor(expected, dtype=torch.float32), "")
    except AssertionError:
        return False
    return True


def rounded(values: list[float]) -> str:
    return "[" + ", ".join(f"{value:.6g}" for value in values) + "]"
