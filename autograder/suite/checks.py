"""Assertions shared by the graded tests, with messages written for students."""

import io
import zipfile

import torch

from autograder.suite.data import mlp_parameter_shapes

MAX_SHOWN = 64  # values of a tensor a message lists
MAX_UNPACKED_BYTES = 16 * 2**20  # a saved Iris model's state dict is a few kilobytes


def expect_tensor(value: object, what: str, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Fail with a clear message unless ``value`` is a tensor of ``shape``; return it.

    Every check calls this before it computes anything from a returned tensor, so that no
    computation's cost depends on a shape the student's code chose (a pairwise comparison of
    a 40000-element reply would need 1.6 billion entries).
    """
    assert isinstance(value, torch.Tensor), f"{what} should return a torch.Tensor, but returned {type(value).__name__}."
    assert tuple(value.shape) == tuple(shape), (
        f"{what} should return a tensor of shape {tuple(shape)}, not {tuple(value.shape)}."
    )
    return value


def shown(tensor: torch.Tensor) -> str:
    """A tensor's values for a message, or only its shape where they would not fit in one."""
    return str(tensor.tolist()) if tensor.numel() <= MAX_SHOWN else f"a tensor of shape {tuple(tensor.shape)}"


def load_weights_only(data: bytes, what: str) -> object:
    """``torch.load(..., weights_only=True)`` of a file the student's code wrote, after checking its size.

    A saved file is a zip archive whose entries may be compressed: the sizes it declares are
    checked first, so that a small file cannot unpack into gigabytes in the grader.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError, TypeError) as error:
        raise ValueError(f"{what} is not the zip archive torch.save writes ({error})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValueError(f"{what} would unpack to {unpacked} bytes, more than the "
                         f"{MAX_UNPACKED_BYTES // 2**20} MB a saved Iris model could need")
    return torch.load(io.BytesIO(data), weights_only=True)


def expect_float_list(value: object, length: int, what: str) -> list[float]:
    """Fail unless ``value`` is a list (or tuple) of ``length`` real numbers; return it as floats.

    One-element tensors count as numbers: the lecture's own loop adds ``is_correct.sum()`` to its
    history, and the value, not its type, is what a history is graded on.
    """
    assert isinstance(value, (list, tuple)), f"{what} should be a list, but is a {type(value).__name__}."
    assert len(value) == length, f"{what} should have {length} entries (one per epoch), but has {len(value)}."
    bad = [v for v in value if not (isinstance(v, (int, float)) or is_real_scalar_tensor(v))]
    assert not bad, (
        f"{what} should hold Python floats (use loss.item()), but holds a {type(bad[0]).__name__}."
    )
    return [float(v) for v in value]


def is_real_scalar_tensor(value: object) -> bool:
    """True for a tensor of one real (not complex) number, of any shape such as () or (1,)."""
    return isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex()


def expect_mlp_state(built: dict, sizes: dict[str, int]) -> dict[str, torch.Tensor]:
    """Fail unless ``built`` (a probe's ``type`` and ``state``) is a module with exactly ``Model``'s layers."""
    assert built["state"] is not None, f"Model(...) should build an nn.Module, not a {built['type']}."
    expected = mlp_parameter_shapes(**sizes)
    actual = {name: tuple(tensor.shape) for name, tensor in built["state"].items()}
    assert actual == expected, (
        f"Model{tuple(sizes.values())} should have exactly the parameters {expected} "
        f"(layer1 and layer2 as nn.Linear), but has {actual}."
    )
    return built["state"]


def assert_close(actual: object, expected: object, what: str, **tolerances: float) -> None:
    """``torch.testing.assert_close`` with ``what`` (the property) above its report of the differences."""
    try:
        torch.testing.assert_close(actual, expected, msg=lambda report: f"{what}\n{report}", **tolerances)
    except TypeError as error:  # e.g. None where a tensor was expected: still the student's answer
        raise AssertionError(f"{what}\n{error}") from None


def trained_as_the_reference(student: object, reference: object, probe: object, setup: dict[str, object],
                             what: str) -> None:
    """Where the reference is present: ``probe`` (a training run) with ``setup``, which starts from parameters and
    an order the grader drew for this grading, ends where the reference's run does.

    A published result can be written down without training; a start nobody could foresee cannot.
    ``student`` and ``reference`` are the fixtures of that name; ``what`` names the run for the message.
    """
    if reference is None:
        return
    run, expected = (submission.run(probe, **setup) for submission in (student, reference))
    assert isinstance(run, dict), f"{what} should train the parameters it is given."
    assert_close(run["final"], expected["final"],
                 f"{what}, started from other parameters and another order than the lecture's, should end where "
                 "the reference's training does: train the parameters it is given, as the lecture does.")
