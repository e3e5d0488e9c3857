"""Scenarios the grader runs inside the worker, against the student's definitions.

Each probe takes the student's ``Submission`` and plain data, sets up what the graded
function needs (tensors with gradients, a DataLoader, a model, an optimizer, a file),
calls the student's code, and returns plain data for the grader to judge. Probes decide
nothing: every verdict is reached in the grader's process from the data they return.
"""

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, TensorDataset

from autograder.suite.data import IRIS_SIZES, iris_arrays, iris_split, lecture_mlp, toy_regression_dataset
from autograder.boundary.notebook import Submission

# Read now, in the grader, before any worker is forked: a worker running as a user of its own may not be
# allowed to read scikit-learn's files.
iris_arrays()
# The gradient of the next backward() after sgd_step, per element: not 0, and unlike any test's old gradient.
NEXT_GRADIENT = 0.25


def probe(exercises: str, trains: bool = False) -> Callable[[Callable], Callable]:
    """Mark a probe with the graded function it exercises (a format string over its
    arguments, for messages like "softmax did not return") and whether it trains a model."""

    def mark(function: Callable) -> Callable:
        function.exercises = exercises
        function.trains = trains
        return function

    return mark


def state_of(model: object) -> dict[str, torch.Tensor] | None:
    """A copy of the parameters of ``model`` by name, or None when it is not an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        return None
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def outputs(model: object, X: torch.Tensor) -> object:
    """``model(X)`` without gradients."""
    with torch.no_grad():
        return model(X)


@contextmanager
def scratch_file(name: str) -> Iterator[Path]:
    """A path in a new empty folder of the process's own temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / name


def shuffled(dataset: TensorDataset, batch_size: int, order_seed: int | None) -> DataLoader:
    """The lecture's shuffled DataLoader: its order drawn from torch's global generator, as the lecture's is,
    or, given ``order_seed``, from a generator of its own that no other draw can shift."""
    generator = None if order_seed is None else torch.Generator().manual_seed(order_seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)


def started_at(model: nn.Module, initial: dict[str, torch.Tensor] | None) -> nn.Module:
    """``model``, with the parameters ``initial`` where given (the grader's own, so that it knows them)."""
    if initial is not None:
        model.load_state_dict(initial)
    return model


@probe("sgd_step")
def sgd_step_update(
    submission: Submission, values: list[torch.Tensor], grads: list[torch.Tensor], learning_rate: float,
    memory: bytearray | memoryview | None = None,
) -> dict[str, object]:
    """Leaf parameters with the given values and gradients, after one ``sgd_step``, and the gradients the next
    ``backward()`` of ``sum(param * NEXT_GRADIENT)`` leaves in them.

    The parameters are float32 and, where ``memory`` is given (a buffer the grader shares, and
    reads itself afterwards), views of it, one after another: an update in place writes there;
    a new tensor (``p.data = ...``) does not. The next gradients are what resetting decides:
    ``p.grad.zero_()`` and ``p.grad = None`` (what ``optimizer.zero_grad()`` does) both leave
    exactly the new gradient; None where the parameters no longer require grad, so that there
    is no next backward.
    """
    if memory is None:
        params = [value.clone().to(torch.float32) for value in values]
    else:
        flat = torch.frombuffer(memory, dtype=torch.float32)
        sizes = [value.numel() for value in values]
        params = [view.view(value.shape) for view, value in zip(flat.split(sizes), values)]
        for param, value in zip(params, values):
            param.copy_(value)
    for param, grad in zip(params, grads):
        param.requires_grad_()
        param.grad = grad.clone().to(torch.float32)
    submission.sgd_step(params, learning_rate)
    after = {
        "values": [param.detach().clone() for param in params],
        "leaf_requires_grad": [param.is_leaf and param.requires_grad for param in params],
        "next_grads": None,
    }
    if all(after["leaf_requires_grad"]):
        sum((param * NEXT_GRADIENT).sum() for param in params).backward()
        after["next_grads"] = [param.grad for param in params]
    return after


@probe("train_linear_regression", trains=True)
def linear_regression_run(
    submission: Submission, seed: int, batch_size: int, learning_rate: float, num_epochs: int,
    initial: torch.Tensor | None = None, order_seed: int | None = None,
) -> dict[str, object]:
    """The lecture's bare-tensor run: seed, ``weight = randn(1)``, ``bias = zeros(1)``, shuffled toy data; or
    from ``initial`` (weight, bias) and the order of ``order_seed``, where given."""
    torch.manual_seed(seed)
    weight = torch.randn(1)
    bias = torch.zeros(1)
    if initial is not None:
        weight, bias = initial[:1].clone(), initial[1:].clone()
    weight.requires_grad_()
    bias.requires_grad_()
    train_dl = shuffled(toy_regression_dataset(), batch_size, order_seed)
    history = submission.train_linear_regression(train_dl, weight, bias, learning_rate, num_epochs)
    return {"history": history, "final": torch.cat([weight.detach(), bias.detach()])}


@probe("train_nn_regression", trains=True)
def nn_regression_run(
    submission: Submission, seed: int, replay_epochs: int, batch_size: int, learning_rate: float, num_epochs: int,
    initial: dict[str, torch.Tensor] | None = None, order_seed: int | None = None,
) -> dict[str, object]:
    """The lecture's ``nn.Linear`` + ``optim.SGD`` run, after replaying ``replay_epochs`` of the
    bare-tensor run's random draws (its ``randn(1)`` and its shuffles) without training; or from
    ``initial`` and the order of ``order_seed``, where given."""
    torch.manual_seed(seed)
    torch.randn(1)
    train_dl = shuffled(toy_regression_dataset(), batch_size, order_seed)
    for _ in range(replay_epochs):
        for _ in train_dl:
            pass
    model = started_at(nn.Linear(1, 1), initial)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    history = submission.train_nn_regression(model, nn.MSELoss(), optimizer, train_dl, num_epochs)
    return {"history": history, "final": state_of(model)}


@probe("Model")
def model_parameters(submission: Submission, sizes: dict[str, int]) -> dict[str, object]:
    """What ``Model(**sizes)`` builds: its type and its parameters."""
    model = submission.Model(**sizes)
    return {"type": type(model).__name__, "state": state_of(model)}


@probe("Model.forward")
def model_outputs(submission: Submission, X: torch.Tensor) -> dict[str, object]:
    """A fresh ``Model(4, 16, 3)``'s outputs on ``X``."""
    model = submission.Model(**IRIS_SIZES)
    return {"type": type(model).__name__, "output": outputs(model, X)}


@probe("Model.forward")
def model_outputs_with_state(submission: Submission, state: dict[str, torch.Tensor], X: torch.Tensor) -> object:
    """The outputs on ``X`` of a ``Model(4, 16, 3)`` given the parameters ``state``."""
    return outputs(started_at(submission.Model(**IRIS_SIZES), state), X)


class Columns(nn.Module):
    """A model whose class scores are some columns of its input, in a given order: the grader knows its predictions,
    and they are not the input's own."""

    def __init__(self, columns: list[int]) -> None:
        super().__init__()
        self.columns = list(columns)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X[:, self.columns]


@probe("accuracy")
def accuracy_of_a_model(submission: Submission, columns: list[int], X: torch.Tensor, labels: torch.Tensor) -> object:
    """``accuracy`` of the grader's model ``Columns(columns)`` on ``X`` and ``labels``."""
    return submission.accuracy(Columns(columns), X, labels)


@probe("train_mlp", trains=True)
def mlp_training_run(
    submission: Submission,
    seed: int,
    batch_size: int,
    optimizer: str,
    learning_rate: float,
    num_epochs: int,
    device: str,
    students_model: bool,
    initial: dict[str, torch.Tensor] | None = None,
    order_seed: int | None = None,
) -> dict[str, object]:
    """The lecture's Iris training recipe with ``train_mlp``: seed, DataLoader, model, optimizer, train.

    With ``students_model`` the model is the student's ``Model``; otherwise the grader's own
    copy of the lecture's architecture, so that only ``train_mlp`` is tested. It starts from
    ``initial`` and draws its order from ``order_seed``, where given.
    """
    torch.manual_seed(seed)
    split = iris_split()
    train_dl = shuffled(TensorDataset(split.X_train.to(device), split.y_train.to(device)), batch_size, order_seed)
    model = started_at(submission.Model(**IRIS_SIZES) if students_model else lecture_mlp(**IRIS_SIZES), initial)
    model = model.to(device)
    optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
    chosen = optimizers[optimizer](model.parameters(), lr=learning_rate)
    histories = submission.train_mlp(model, train_dl, nn.CrossEntropyLoss(), chosen, num_epochs)
    return {"histories": histories, "final": state_of(model)}


@probe("save_model")
def saved_model_file(submission: Submission, state: dict[str, torch.Tensor]) -> dict[str, object]:
    """A ``Model`` with the parameters ``state``, saved with ``save_model``: the file's bytes.

    The grader never unpickles the file: only a new worker does (``model_loaded_from_file``). What it
    should predict the grader computes itself, from ``state``: nothing ``save_model`` does to the model
    can change it.
    """
    model = started_at(submission.Model(**IRIS_SIZES), state)
    with scratch_file("model.pt") as path:
        submission.save_model(model, str(path))
        file = path.read_bytes() if path.is_file() else None
    return {"file": file}


@probe("load_model")
def model_loaded_from_file(submission: Submission, file: bytes, X: torch.Tensor) -> dict[str, object]:
    """``load_model`` on the bytes another process's ``save_model`` wrote: the loaded model's outputs on ``X``."""
    with scratch_file("model.pt") as path:
        path.write_bytes(file)
        loaded = submission.load_model(str(path))
    return {"type": type(loaded).__name__, "output": outputs(loaded, X)}


@probe("save_parameters")
def saved_parameters_file(submission: Submission, state: dict[str, torch.Tensor]) -> dict[str, object]:
    """A ``Model`` with the parameters ``state``, saved with ``save_parameters``: the file's bytes."""
    model = started_at(submission.Model(**IRIS_SIZES), state)
    with scratch_file("parameters.pt") as path:
        submission.save_parameters(model, str(path))
        file = path.read_bytes() if path.is_file() else None
    return {"file": file}


@probe("load_parameters")
def load_parameters_from_file(submission: Submission, file: bytes, X: torch.Tensor) -> dict[str, object]:
    """``load_parameters`` on a file another process wrote (the grader, or the student's ``save_parameters``
    in another worker): the loaded model's outputs on ``X``."""
    with scratch_file("parameters.pt") as path:
        path.write_bytes(file)
        loaded = submission.load_parameters(str(path), **IRIS_SIZES)
    return {"type": type(loaded).__name__, "output": outputs(loaded, X)}


@probe("{name}")
def activation_with_gradient(
    submission: Submission, name: str, z: torch.Tensor, weights: torch.Tensor | None = None
) -> dict[str, object]:
    """An activation's output on ``z`` and, where autograd can differentiate it, the gradient
    of the sum of its outputs (each times ``weights``, where given)."""
    z = z.clone().requires_grad_()
    output = getattr(submission, name)(z)
    differentiable = isinstance(output, torch.Tensor) and output.requires_grad
    if differentiable:
        (output if weights is None else output * weights).sum().backward()
    return {"output": output, "differentiable": differentiable, "grad": z.grad}


@probe("{name}")
def activation_and_its_input(submission: Submission, name: str, z: torch.Tensor) -> dict[str, object]:
    """An activation's output on ``z``, and ``z`` as it is after the call (the grader holds what it was)."""
    output = getattr(submission, name)(z)
    return {"output": output, "input_after": z}


@probe("{name}")
def activation_on_a_strided_view(submission: Submission, name: str, z: torch.Tensor) -> object:
    """The activation of a non-contiguous view holding the same values as ``z`` (every other
    element of ``z`` repeated along its last dimension); views cannot cross the boundary."""
    view = z.repeat_interleave(2, dim=-1)[..., ::2]
    return getattr(submission, name)(view)


class TorchCallRecorder(TorchFunctionMode):
    """Records the qualified name of every torch function and Tensor method called while active."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.add(resolve_name(func) or getattr(func, "__name__", repr(func)))
        return func(*args, **(kwargs or {}))


class AtenCallRecorder(TorchDispatchMode):
    """Records the name of every ATen operator run while active (``aten.sigmoid.default`` as ``aten.sigmoid``).

    The dispatcher sees the operators whatever the Python spelling, also under
    ``torch._C.DisableTorchFunction`` or through ``torch.ops.aten`` directly, which the
    function-level recorder does not.
    """

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(f"aten.{func.overloadpacket.__name__}")
        return func(*args, **(kwargs or {}))


@probe("{name}")
def activation_and_builtins_called(submission: Submission, name: str, z: torch.Tensor,
                                   requires_grad: bool = False) -> dict[str, object]:
    """The student's ``name(z)`` and, with ``requires_grad``, its backward pass, and every torch function and ATen
    operator they ran, by qualified name: the grader picks out PyTorch's activations itself."""
    function = getattr(submission, name)
    z = z.clone().requires_grad_(requires_grad)
    with TorchCallRecorder() as recorder, AtenCallRecorder() as operators:
        output = function(z)
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.sum().backward()
    return {"output": output, "called": sorted(recorder.names | operators.names)}
