"""Part 3: sigmoid, tanh, softmax and ReLU written from scratch.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import probes, strategies
from autograder.checks import assert_close, expect_tensor

pytestmark = pytest.mark.part("Part 3: activation functions")

ACTIVATIONS = ("sigmoid", "tanh", "softmax", "relu")
FORMULAS = {"sigmoid": "1 / (1 + exp(-z))", "tanh": "(exp(z) - exp(-z)) / (exp(z) + exp(-z))", "relu": "max(0, z)"}
# PyTorch's own versions, the yardstick (softmax along the last dimension, its default).
BUILTINS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softmax": lambda z: torch.softmax(z, -1), "relu": torch.relu}
# Inputs far beyond where exp overflows (about 88 in float32, 709 in float64).
LARGE_INPUTS = [-1e4, -1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0, 1e4]

# The lecture's examples: a logistic neuron with x = [1, 1.4, 2.5] and w = [0.4, 0.3, 0.5]
# outputs 0.888; the net inputs Z = [1.78, 0.76, 1.65] have these softmax probabilities.
LECTURE_X, LECTURE_W, LECTURE_LOGISTIC = [1.0, 1.4, 2.5], [0.4, 0.3, 0.5], 0.888
LECTURE_Z, LECTURE_SOFTMAX = [1.78, 0.76, 1.65], [0.4467, 0.1611, 0.3922]


@st.composite
def tensors_and_dims(draw: st.DrawFn) -> tuple[torch.Tensor, int]:
    """A tensor of 1-3 dimensions and one of its dimensions, negative or not."""
    z = draw(strategies.float_tensors(shape=strategies.shapes(min_dims=1)))
    return z, draw(st.integers(-z.dim(), z.dim() - 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
@given(z=strategies.float_tensors())
def test_elementwise_activation_equals_its_formula(student, name, z):
    """The activation equals PyTorch's own on every element, with the same shape and dtype."""
    out = expect_tensor(getattr(student, name)(z), name)
    assert_close(out, BUILTINS[name](z), f"{name}(z) should equal {FORMULAS[name]}.")


@pytest.mark.points(1)
def test_sigmoid_of_the_lectures_net_input_is_0_888(student):
    """The lecture's logistic neuron, net input w . x = 2.07, outputs 0.888."""
    out = expect_tensor(student.sigmoid(torch.tensor(LECTURE_W) @ torch.tensor(LECTURE_X)), "sigmoid")
    assert out.item() == pytest.approx(LECTURE_LOGISTIC, abs=5e-4), (
        f"sigmoid(2.07) should be {LECTURE_LOGISTIC}, got {out.item():.4f}."
    )


@pytest.mark.points(1)
@given(z=strategies.float_tensors())
def test_tanh_is_two_sigmoid_of_2z_minus_one(student, z):
    """tanh(z) equals 2 * sigmoid(2z) - 1."""
    out = expect_tensor(student.tanh(z), "tanh")
    assert_close(out, 2 * torch.sigmoid(2 * z) - 1, "tanh(z) should equal 2 * sigmoid(2 * z) - 1.")


@pytest.mark.points(1)
@given(z_dim=tensors_and_dims())
def test_softmax_slices_sum_to_one(student, z_dim):
    """Every slice of softmax(z, dim) along dim is non-negative and sums to 1."""
    z, dim = z_dim
    out = expect_tensor(student.softmax(z, dim), "softmax")
    assert out.shape == z.shape, f"softmax should keep the shape {tuple(z.shape)}, not give {tuple(out.shape)}."
    assert (out >= 0).all(), f"softmax(z, dim={dim}) should never be negative."
    sums = out.sum(dim=dim)
    assert_close(sums, torch.ones_like(sums), f"Every slice of softmax(z, dim={dim}) along dim {dim} should sum to 1.")


@pytest.mark.points(1)
@given(z_dim=tensors_and_dims())
def test_softmax_equals_torch_softmax(student, z_dim):
    """softmax(z, dim) equals torch.softmax(z, dim) for every dim, negative ones too."""
    z, dim = z_dim
    out = expect_tensor(student.softmax(z, dim), "softmax")
    assert_close(out, torch.softmax(z, dim), f"softmax(z, dim={dim}) should equal exp(z) / exp(z).sum(dim).")


@pytest.mark.points(1)
def test_softmax_defaults_to_the_last_dimension(student):
    """softmax(z) normalizes along the last dimension."""
    z = torch.arange(6.0).reshape(2, 3)
    out = expect_tensor(student.softmax(z), "softmax")
    assert_close(out, torch.softmax(z, -1), "softmax(z) without dim should normalize along dim=-1.")


@pytest.mark.points(1)
def test_softmax_of_the_lectures_net_inputs(student):
    """The lecture's net inputs [1.78, 0.76, 1.65] have softmax probabilities [0.4467, 0.1611, 0.3922]."""
    out = expect_tensor(student.softmax(torch.tensor(LECTURE_Z), 0), "softmax")
    assert_close(out, torch.tensor(LECTURE_SOFTMAX), "softmax of the lecture's Z should give its probabilities.", rtol=0, atol=5e-4)


@pytest.mark.points(1)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1)).filter(lambda t: bool((t != 0).all())))
def test_relu_gradient_is_one_for_positive_and_zero_for_negative_inputs(student, z):
    """The autograd gradient of relu(z).sum() is 1 where z > 0 and 0 where z < 0."""
    result = student.run(probes.activation_with_gradient, name="relu", z=z)
    assert result["differentiable"], "relu's output should be differentiable: build it from tensor operations on z."
    assert_close(result["grad"], (z > 0).to(z.dtype), "relu's gradient should be 1 where z > 0 and 0 where z < 0.")


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", strategies.FLOAT_DTYPES.values(), ids=strategies.FLOAT_DTYPES.keys())
def test_activation_is_right_and_finite_for_large_inputs(student, name, dtype):
    """For inputs as large as 1e4 in magnitude the activation is still right, and its gradient finite."""
    z = torch.tensor(LARGE_INPUTS, dtype=dtype)
    result = student.run(probes.activation_with_gradient, name=name, z=z)
    out = expect_tensor(result["output"], name)
    assert torch.isfinite(out).all(), f"{name} of {LARGE_INPUTS} gives {out.tolist()}: no inf or nan allowed."
    assert_close(out, BUILTINS[name](z),
                 f"{name} should stay right for inputs as large as 1e4 in magnitude.")
    assert result["differentiable"], f"{name}'s output should be differentiable: build it from tensor operations on z."
    grad = result["grad"]
    assert torch.isfinite(grad).all(), f"{name}'s gradient at {LARGE_INPUTS} is {grad.tolist()}: no inf or nan allowed."


@pytest.mark.points(1)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_is_written_from_scratch(student, name):
    """The activation is right without calling PyTorch's own sigmoid, tanh, softmax or ReLU."""
    z = torch.linspace(-3, 3, 7)
    result = student.run(probes.activation_and_builtins_called, name=name, z=z)
    out = expect_tensor(result["output"], name)
    assert_close(out, BUILTINS[name](z),
                 f"{name} should compute the {name} of its input.")
    assert not result["called"], (
        f"{name} calls {', '.join(result['called'])}: this part asks you to write it from "
        "elementary operations (torch.exp, torch.where, arithmetic, ...). It earns no points as is."
    )
