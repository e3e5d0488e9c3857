"""Assertions shared by the graded tests, with messages written for students."""

from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode, resolve_name


def expect_tensor(value: object, what: str) -> torch.Tensor:
    """Fail with a clear message unless ``value`` is a tensor; return it."""
    assert isinstance(value, torch.Tensor), f"{what} should return a torch.Tensor, but returned {type(value).__name__}."
    return value


def expect_float_list(value: object, length: int, what: str) -> list[float]:
    """Fail unless ``value`` is a list (or tuple) of ``length`` real numbers; return it as floats."""
    assert isinstance(value, (list, tuple)), f"{what} should be a list, but is a {type(value).__name__}."
    assert len(value) == length, f"{what} should have {length} entries (one per epoch), but has {len(value)}."
    bad = [v for v in value if not isinstance(v, (int, float))]
    assert not bad, (
        f"{what} should hold Python floats (use loss.item()), but holds a {type(bad[0]).__name__}."
    )
    return [float(v) for v in value]


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str, **tolerances: float) -> None:
    """``torch.testing.assert_close`` with ``what`` (the property) above its report of the differences."""
    torch.testing.assert_close(
        actual, expected, msg=lambda report: f"{what}\n{report}", **tolerances
    )


# PyTorch's own activation functions, by the last part of their qualified names.
BUILTIN_ACTIVATIONS = frozenset({
    "sigmoid", "sigmoid_", "expit", "logsigmoid",
    "tanh", "tanh_",
    "softmax", "_softmax", "log_softmax", "softmin",
    "relu", "relu_", "relu6", "threshold", "threshold_", "hardtanh", "hardtanh_",
})


class TorchCallRecorder(TorchFunctionMode):
    """Records the qualified name of every torch function and Tensor method called while active."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.add(resolve_name(func) or getattr(func, "__name__", repr(func)))
        return func(*args, **(kwargs or {}))


def builtin_activations_called(function: Callable[..., object], *args: object) -> set[str]:
    """The built-in activation functions that ``function(*args)`` calls, by qualified name."""
    with TorchCallRecorder() as recorder:
        function(*args)
    return {name for name in recorder.names if name.rsplit(".", 1)[-1] in BUILTIN_ACTIVATIONS}
