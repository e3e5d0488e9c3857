"""The grader's own copies of the lecture's data, and computations whose results it must trust."""

import functools
import importlib.util
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

IRIS_SIZES = {"input_size": 4, "hidden_size": 16, "output_size": 3}


def toy_regression_dataset() -> TensorDataset:
    """The lecture's ten points, inputs standardized: x float32 (10, 1), y float32 (10,)."""
    x = np.arange(10, dtype="float32").reshape((10, 1))
    y = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], dtype="float32")
    x_norm = (x - np.mean(x)) / np.std(x)
    return TensorDataset(torch.from_numpy(x_norm), torch.from_numpy(y))


@dataclass(frozen=True)
class IrisSplit:
    """The lecture's Iris split, standardized with the training set's (scalar) mean and std.

    ``X_*`` are float32 of shape (n, 4); ``y_*`` are int64 of shape (n,); 100 train, 50 test.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


@functools.cache
def iris_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Iris as ``load_iris`` gives it: features float64 (150, 4), labels int64 (150,).

    Read from scikit-learn's own copy of the file, without importing scikit-learn, which
    would add about 80 MB and half a second to the grader; once per process (``probes`` reads
    it on import, so that workers forked later have it without reading scikit-learn's files).
    """
    package = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    table = np.loadtxt(Path(package, "datasets", "data", "iris.csv"), delimiter=",", skiprows=1)
    return table[:, :4], table[:, 4].astype(np.int64)


def iris_split() -> IrisSplit:
    """Iris split as the lecture does, ``train_test_split(test_size=1/3, random_state=1)``, and standardized."""
    X, y = iris_arrays()
    # What train_test_split does here: a permutation from RandomState(1), the first 50 held out.
    # tests/test_data.py checks that this matches scikit-learn's own split.
    permutation = np.random.RandomState(1).permutation(len(X))
    test, train = permutation[:50], permutation[50:]
    mean, std = np.mean(X[train]), np.std(X[train])
    return IrisSplit(
        X_train=torch.from_numpy((X[train] - mean) / std).float(),
        y_train=torch.from_numpy(y[train]),
        X_test=torch.from_numpy((X[test] - mean) / std).float(),
        y_test=torch.from_numpy(y[test]),
    )


def mlp_parameter_shapes(input_size: int, hidden_size: int, output_size: int) -> dict[str, tuple[int, ...]]:
    """The state-dict keys of the assignment's ``Model`` and the shape of each tensor."""
    return {
        "layer1.weight": (hidden_size, input_size),
        "layer1.bias": (hidden_size,),
        "layer2.weight": (output_size, hidden_size),
        "layer2.bias": (output_size,),
    }


def random_parameters(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Parameters of the given shapes drawn by the grader from ``seed``: float32, standard normal times 0.5."""
    generator = torch.Generator().manual_seed(seed)
    return {name: 0.5 * torch.randn(shape, generator=generator) for name, shape in shapes.items()}


def lecture_mlp(input_size: int, hidden_size: int, output_size: int) -> nn.Sequential:
    """The lecture's architecture from PyTorch's own layers, with the state-dict keys of ``Model``."""
    return nn.Sequential(OrderedDict(
        layer1=nn.Linear(input_size, hidden_size),
        sigmoid=nn.Sigmoid(),
        layer2=nn.Linear(hidden_size, output_size),
        softmax=nn.Softmax(dim=1),
    ))


def mlp_probabilities(state_dict: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """The assignment's MLP computed by the grader from raw parameters.

    Args:
        state_dict: float tensors under the keys of ``mlp_parameter_shapes``.
        X: float tensor (n, input_size).

    Returns:
        softmax(layer2(sigmoid(layer1(X)))) over dim 1, float tensor (n, output_size).
    """
    w1, b1 = state_dict["layer1.weight"], state_dict["layer1.bias"]
    w2, b2 = state_dict["layer2.weight"], state_dict["layer2.bias"]
    hidden = torch.sigmoid(X @ w1.T + b1)
    return torch.softmax(hidden @ w2.T + b2, dim=1)


def trusted_accuracy(state_dict: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``X`` (float, (n, 4)) whose argmax class under the MLP is ``y`` (int64, (n,))."""
    with torch.no_grad():
        predictions = mlp_probabilities(state_dict, X).argmax(dim=1)
    return (predictions == y).double().mean().item()
