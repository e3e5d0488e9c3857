"""Part 3: sigmoid, tanh, softmax and ReLU written from scratch.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from autograder.boundary.messages import StudentCodeFailed
from autograder.suite import probes, scratch, strategies
from autograder.suite.checks import assert_close, expect_tensor, shown

pytestmark = pytest.mark.part("Part 3: activation functions")

ACTIVATIONS = ("sigmoid", "tanh", "softmax", "relu")
FORMULAS = {"sigmoid": "1 / (1 + exp(-z))", "tanh": "(exp(z) - exp(-z)) / (exp(z) + exp(-z))", "relu": "max(0, z)"}
# PyTorch's own versions, the yardstick (softmax along the last dimension, its default).
BUILTINS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softmax": lambda z: torch.softmax(z, -1), "relu": torch.relu}
RANGES = {"sigmoid": (0, 1), "tanh": (-1, 1), "softmax": (0, 1), "relu": (0, float("inf"))}
# Inputs far beyond where exp overflows (about 88 in float32, 709 in float64).
LARGE_INPUTS = [-1e4, -1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0, 1e4]

# The lecture's examples: a logistic neuron with x = [1, 1.4, 2.5] and w = [0.4, 0.3, 0.5]
# outputs 0.888; the net inputs Z = [1.78, 0.76, 1.65] have these softmax probabilities.
LECTURE_X, LECTURE_W, LECTURE_LOGISTIC = [1.0, 1.4, 2.5], [0.4, 0.3, 0.5], 0.888
LECTURE_Z, LECTURE_SOFTMAX = [1.78, 0.76, 1.65], [0.4467, 0.1611, 0.3922]
# Every gradient check tries 0 and its neighbours first: a formula's gradient is most often wrong exactly there.
AROUND_ZERO = torch.tensor([-1.0, -1e-3, 0.0, 1e-3, 1.0], dtype=torch.float64)


NOTEBOOK = "03_activations.ipynb"
# What the recorders may send back: a name per torch function or ATen operator the activation ran.
MAX_RECORDED_NAMES = 1000


def unforeseeable_inputs(seed: int) -> list[torch.Tensor]:
    """Inputs drawn afresh each grading, so that no activation can recognise them: float32 (7,) and float64 (3, 4)."""
    generator = torch.Generator().manual_seed(seed)
    return [3 * torch.randn(7, generator=generator), 3 * torch.randn(3, 4, generator=generator, dtype=torch.float64)]


def not_from_scratch(student, name: str, seed: int) -> str | None:
    """Why ``name`` may not be graded, for the student: a construct its program uses that Part 3 does not allow, or a
    name nothing defines; None when it is written from the operations Part 3 allows.

    The verdict is the grader's, from the program it built from the notebook's source before any student code ran
    (``scratch.judge``), which is all the activation's worker runs. The calls recorded while the activation ran on
    inputs it cannot foresee (``probes.activation_and_builtins_called``) are a second opinion that can only refuse: a
    recorder runs beside student code, which could silence it.
    """
    verdict = scratch.judge(student.cells(NOTEBOOK), name)
    if verdict.missing:
        return verdict.missing[0].message(name)
    if verdict.refusals:
        return f"{verdict.refusals[0].message(name)}. {scratch.HINT} None of its checks count."
    recorded: set[str] = set()
    # The float64 input's backward pass is recorded too.
    for z, requires_grad in zip(unforeseeable_inputs(seed), (False, True)):
        try:
            result = student.run(probes.activation_and_builtins_called, name=name, z=z, requires_grad=requires_grad)
        except StudentCodeFailed as error:
            if error.stub is not None:  # an untouched stub: every check says so at once
                raise
            # It fails on this input: nothing was recorded, and the checks say what fails, each on its own inputs (a
            # failure here would be shown with the example of whichever check asked first).
            continue
        names = result.get("called") if isinstance(result, dict) else None
        assert (isinstance(names, list) and len(names) <= MAX_RECORDED_NAMES
                and all(isinstance(n, str) for n in names)), (
            "The process running your code sent back a malformed report of the torch functions it called."
        )
        recorded.update(names)
    called = sorted(n for n in recorded if scratch.is_activation(n.rsplit(".", 1)[-1]))
    if called:
        return (f"{name} calls {', '.join(called)} while it runs, though its source does not say so: PyTorch's own "
                f"activations, reached some way the grader cannot follow. {scratch.HINT} None of its checks count.")
    return None


@pytest.fixture(scope="session")
def from_scratch(student, unforeseeable_seed):
    """A check that fails every test of an activation that may not be graded (see ``not_from_scratch``), with one
    message and no example: no input explains how code is written."""
    verdicts: dict[str, str | None | BaseException] = {}

    def check(name: str) -> None:
        if name not in verdicts:
            try:
                verdicts[name] = not_from_scratch(student, name, unforeseeable_seed)
            except Exception as error:  # the activation's own failure (a stub, a crash): every check says it, once found
                verdicts[name] = error
        verdict = verdicts[name]
        if isinstance(verdict, BaseException):
            raise verdict.again() if isinstance(verdict, StudentCodeFailed) else verdict
        if verdict is not None:
            raise StudentCodeFailed(verdict, about_submission=True)

    return check


@st.composite
def tensors_and_dims(draw: st.DrawFn) -> tuple[torch.Tensor, int]:
    """A tensor of 1-3 dimensions and one of its dimensions, negative or not."""
    z = draw(strategies.float_tensors(shape=strategies.shapes(min_dims=1)))
    return z, draw(st.integers(-z.dim(), z.dim() - 1))


@pytest.mark.checks("{name}")
@pytest.mark.points(1)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
@given(z=strategies.float_tensors())
def test_elementwise_activation_equals_its_formula(student, from_scratch, name, z):
    """The activation equals PyTorch's own on every element, with the same shape and dtype."""
    from_scratch(name)
    out = expect_tensor(getattr(student, name)(z), name, z.shape)
    assert_close(out, BUILTINS[name](z), f"{name}(z) should equal {FORMULAS[name]}.")


@pytest.mark.checks("sigmoid")
@pytest.mark.points(1)
def test_sigmoid_of_the_lectures_net_input_is_0_888(student, from_scratch):
    """The lecture's logistic neuron, net input w . x = 2.07, outputs 0.888."""
    from_scratch("sigmoid")
    out = expect_tensor(student.sigmoid(torch.tensor(LECTURE_W) @ torch.tensor(LECTURE_X)), "sigmoid", ())
    assert out.item() == pytest.approx(LECTURE_LOGISTIC, abs=5e-4), (
        f"sigmoid(2.07) should be {LECTURE_LOGISTIC}, got {out.item():.4f}."
    )


@pytest.mark.checks("tanh")
@pytest.mark.points(1)
@given(z=strategies.float_tensors())
def test_tanh_is_two_sigmoid_of_2z_minus_one(student, from_scratch, z):
    """tanh(z) equals 2 * sigmoid(2z) - 1."""
    from_scratch("tanh")
    out = expect_tensor(student.tanh(z), "tanh", z.shape)
    assert_close(out, 2 * torch.sigmoid(2 * z) - 1, "tanh(z) should equal 2 * sigmoid(2 * z) - 1.")


@pytest.mark.checks("softmax")
@pytest.mark.points(1)
@given(z_dim=tensors_and_dims())
def test_softmax_slices_sum_to_one(student, from_scratch, z_dim):
    """Every slice of softmax(z, dim) along dim is non-negative and sums to 1."""
    from_scratch("softmax")
    z, dim = z_dim
    out = expect_tensor(student.softmax(z, dim), "softmax", z.shape)
    assert (out >= 0).all(), f"softmax(z, dim={dim}) should never be negative."
    sums = out.sum(dim=dim)
    assert_close(sums, torch.ones_like(sums), f"Every slice of softmax(z, dim={dim}) along dim {dim} should sum to 1.")


@pytest.mark.checks("softmax")
@pytest.mark.points(1)
@given(z_dim=tensors_and_dims())
def test_softmax_equals_torch_softmax(student, from_scratch, z_dim):
    """softmax(z, dim) equals torch.softmax(z, dim) for every dim, negative ones too."""
    from_scratch("softmax")
    z, dim = z_dim
    out = expect_tensor(student.softmax(z, dim), "softmax", z.shape)
    assert_close(out, torch.softmax(z, dim), f"softmax(z, dim={dim}) should equal exp(z) / exp(z).sum(dim).")


@pytest.mark.checks("softmax")
@pytest.mark.points(1)
def test_softmax_defaults_to_the_last_dimension(student, from_scratch):
    """softmax(z) normalizes along the last dimension."""
    from_scratch("softmax")
    z = torch.arange(6.0).reshape(2, 3)
    out = expect_tensor(student.softmax(z), "softmax", z.shape)
    assert_close(out, torch.softmax(z, -1), "softmax(z) without dim should normalize along dim=-1.")


@pytest.mark.checks("softmax")
@pytest.mark.points(1)
def test_softmax_of_the_lectures_net_inputs(student, from_scratch):
    """The lecture's net inputs [1.78, 0.76, 1.65] have softmax probabilities [0.4467, 0.1611, 0.3922]."""
    from_scratch("softmax")
    out = expect_tensor(student.softmax(torch.tensor(LECTURE_Z), 0), "softmax", (len(LECTURE_Z),))
    assert_close(out, torch.tensor(LECTURE_SOFTMAX), "softmax of the lecture's Z should give its probabilities.", rtol=0, atol=5e-4)


@pytest.mark.checks("relu")
@pytest.mark.points(1)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1)))
def test_relu_gradient_is_one_for_positive_and_zero_for_negative_inputs(student, from_scratch, z):
    """The autograd gradient of relu(z).sum() is 1 where z > 0 and 0 where z < 0 (at 0 it is the student's choice)."""
    from_scratch("relu")
    result = student.run(probes.activation_with_gradient, name="relu", z=z)
    assert result["differentiable"], "relu's output should be differentiable: build it from tensor operations on z."
    grad = expect_tensor(result["grad"], "relu's gradient", z.shape)
    defined = z != 0
    assert_close(grad[defined], (z > 0).to(z.dtype)[defined], "relu's gradient should be 1 where z > 0 and 0 where z < 0.")


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", strategies.FLOAT_DTYPES.values(), ids=strategies.FLOAT_DTYPES.keys())
def test_activation_is_right_and_finite_for_large_inputs(student, from_scratch, name, dtype):
    """For inputs as large as 1e4 in magnitude the activation is still right, and its gradient finite."""
    from_scratch(name)
    z = torch.tensor(LARGE_INPUTS, dtype=dtype)
    result = student.run(probes.activation_with_gradient, name=name, z=z)
    out = expect_tensor(result["output"], name, z.shape)
    assert torch.isfinite(out).all(), f"{name} of {LARGE_INPUTS} gives {out.tolist()}: no inf or nan allowed."
    assert_close(out, BUILTINS[name](z),
                 f"{name} should stay right for inputs as large as 1e4 in magnitude.")
    assert result["differentiable"], f"{name}'s output should be differentiable: build it from tensor operations on z."
    grad = expect_tensor(result["grad"], f"{name}'s gradient", z.shape)
    assert torch.isfinite(grad).all(), f"{name}'s gradient at {LARGE_INPUTS} is {grad.tolist()}: no inf or nan allowed."


@pytest.mark.checks("{name}")
@pytest.mark.points(1)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_is_written_from_scratch(student, from_scratch, unforeseeable_seed, name):
    """The activation is written from elementary operations and gives its function's values."""
    from_scratch(name)
    z = unforeseeable_inputs(unforeseeable_seed)[0]
    out = expect_tensor(getattr(student, name)(z), name, z.shape)
    assert_close(out, BUILTINS[name](z), f"{name} should compute the {name} of its input.")


@pytest.mark.checks("sigmoid")
@pytest.mark.points(0.5)
def test_sigmoid_of_zero_is_one_half(student, from_scratch):
    """sigmoid(0) is exactly 0.5."""
    from_scratch("sigmoid")
    out = expect_tensor(student.sigmoid(torch.zeros(1)), "sigmoid", (1,))
    assert out.tolist() == [0.5], f"sigmoid(0) should be 0.5, got {out.tolist()}."


@pytest.mark.checks("sigmoid")
@pytest.mark.points(0.5)
@given(z=strategies.float_tensors())
def test_sigmoid_of_minus_z_is_one_minus_sigmoid_of_z(student, from_scratch, z):
    """sigmoid(-z) equals 1 - sigmoid(z)."""
    from_scratch("sigmoid")
    minus, plus = (expect_tensor(student.sigmoid(t), "sigmoid", z.shape) for t in (-z, z))
    assert_close(minus, 1 - plus, "sigmoid(-z) should equal 1 - sigmoid(z).")


@pytest.mark.checks("tanh")
@pytest.mark.points(0.5)
@given(z=strategies.float_tensors())
def test_tanh_is_odd(student, from_scratch, z):
    """tanh(-z) equals -tanh(z)."""
    from_scratch("tanh")
    minus, plus = (expect_tensor(student.tanh(t), "tanh", z.shape) for t in (-z, z))
    assert_close(minus, -plus, "tanh(-z) should equal -tanh(z).")


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1), bound=1e4))
def test_activation_stays_within_its_range(student, from_scratch, name, z):
    """The activation stays in its range ([0, 1] for sigmoid and softmax, [-1, 1] for tanh, 0 and up for relu) for inputs up to 1e4."""
    from_scratch(name)
    low, high = RANGES[name]
    out = expect_tensor(getattr(student, name)(z), name, z.shape)
    assert bool(((out >= low) & (out <= high)).all()), f"{name}'s values should lie in [{low}, {high}], got {shown(out)}."


@pytest.mark.checks("softmax")
@pytest.mark.points(0.5)
@given(z_dim=tensors_and_dims(), shift=st.floats(-50, 50, width=32))
def test_softmax_is_unchanged_by_adding_a_constant(student, from_scratch, z_dim, shift):
    """softmax(z + c, dim) equals softmax(z, dim) for any constant c."""
    from_scratch("softmax")
    z, dim = z_dim
    shifted, plain = (expect_tensor(student.softmax(t, dim), "softmax", z.shape) for t in (z + shift, z))
    assert_close(shifted, plain, f"softmax(z + {shift}, dim={dim}) should equal softmax(z, dim={dim}).",
                 rtol=1e-4, atol=1e-5)


@pytest.mark.checks("softmax")
@pytest.mark.points(0.5)
@given(z=strategies.float_tensors(shape=st.tuples(st.integers(2, 8))))
def test_softmax_keeps_the_order_of_its_inputs(student, from_scratch, z):
    """A larger input never gets a smaller probability."""
    from_scratch("softmax")
    out = expect_tensor(student.softmax(z, 0), "softmax", z.shape)
    larger = z[:, None] > z[None, :]
    assert bool((out[:, None] >= out[None, :])[larger].all()), (
        f"softmax({z.tolist()}) = {out.tolist()}: a larger input should never get a smaller probability."
    )


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_leaves_its_input_unchanged(student, from_scratch, name):
    """Calling the activation does not modify the tensor it is given."""
    from_scratch(name)
    z = torch.linspace(-3, 3, 7)
    result = student.run(probes.activation_and_its_input, name=name, z=z)
    assert torch.equal(expect_tensor(result["input_after"], f"{name}'s input", z.shape), z), (
        f"{name} changed its input in place (to {shown(result['input_after'])}); compute a new tensor instead."
    )


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@example(z=AROUND_ZERO)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1), dtype=torch.float64))
def test_activation_gradient_equals_pytorchs(student, from_scratch, name, z):
    """The autograd gradient of a weighted sum of the activation's outputs equals PyTorch's own, in float64, wherever
    it is defined: everywhere, but for relu at 0 (where the derivative is a convention)."""
    from_scratch(name)
    # Unequal weights, so that softmax's gradient is not trivially zero.
    weights = torch.linspace(0.5, 1.5, z.numel(), dtype=torch.float64).reshape(z.shape)
    result = student.run(probes.activation_with_gradient, name=name, z=z, weights=weights)
    assert result["differentiable"], f"{name}'s output should be differentiable: build it from tensor operations on z."
    expected = z.clone().requires_grad_()
    (BUILTINS[name](expected) * weights).sum().backward()
    grad = expect_tensor(result["grad"], f"{name}'s gradient", z.shape)
    defined = z != 0 if name == "relu" else torch.ones_like(z, dtype=torch.bool)
    assert_close(grad[defined], expected.grad[defined],
                 f"The gradient of {name}(z) should equal that of PyTorch's own.", rtol=1e-6, atol=1e-9)


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1)))
def test_activation_matches_the_reference(student, reference, from_scratch, name, z):
    """The activation gives the reference's values on generated tensors."""
    from_scratch(name)
    out = expect_tensor(getattr(student, name)(z), name, z.shape)
    assert_close(out, getattr(reference, name)(z), f"{name} should give the reference's values.")


@pytest.mark.checks("{name}")
@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", ACTIVATIONS)
@given(z=strategies.float_tensors(shape=strategies.shapes(min_dims=1)))
def test_activation_handles_non_contiguous_tensors(student, from_scratch, name, z):
    """On a non-contiguous view (a strided slice) the activation gives the same values as on a plain tensor."""
    from_scratch(name)
    out = expect_tensor(student.run(probes.activation_on_a_strided_view, name=name, z=z), name, z.shape)
    assert_close(out, BUILTINS[name](z), f"{name} should work on non-contiguous tensors (views, slices) too.")
