"""Part 1: linear regression with bare tensors, then with torch.nn and torch.optim.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader

from autograder import strategies
from autograder.checks import assert_close, expect_float_list, expect_tensor
from autograder.data import toy_regression_dataset

pytestmark = pytest.mark.part("Part 1: linear regression")

# The lecture's final (weight, bias) after 200 epochs at learning rate 0.001, from seed 1.
LECTURE_BY_HAND = (2.6696107387542725, 4.879678249359131)
LECTURE_NN = (2.6496422290802, 4.87706995010376)
LECTURE_EPOCHS = 200
LECTURE_LEARNING_RATE = 0.001


@st.composite
def linear_inputs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(xb, weight, bias)`` of shapes (batch, features), (features,), (1,), one dtype."""
    batch, features = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    dtype = draw(strategies.float_dtypes())
    xb = draw(strategies.float_tensors(shape=(batch, features), dtype=dtype))
    weight = draw(strategies.float_tensors(shape=(features,), dtype=dtype))
    bias = draw(strategies.float_tensors(shape=(1,), dtype=dtype))
    return xb, weight, bias


def lecture_start() -> tuple[torch.Tensor, torch.Tensor, DataLoader]:
    """Seed 1, ``weight = torch.randn(1)``, ``bias = torch.zeros(1)``, shuffled batches of 1."""
    torch.manual_seed(1)
    weight = torch.randn(1).requires_grad_()
    bias = torch.zeros(1, requires_grad=True)
    return weight, bias, DataLoader(toy_regression_dataset(), batch_size=1, shuffle=True)


def parameters_with_gradients() -> list[torch.Tensor]:
    """Two leaf tensors whose ``.grad`` has been filled by a backward pass."""
    params = [torch.tensor([1.0, -2.0], requires_grad=True), torch.tensor([0.5], requires_grad=True)]
    (params[0] * torch.tensor([3.0, 4.0])).sum().add(params[1].sum() * 5.0).backward()
    return params


@pytest.mark.points(1)
@given(inputs=linear_inputs())
def test_model_is_xb_at_weight_plus_bias(student, inputs):
    """model(xb, weight, bias) equals xb @ weight + bias."""
    xb, weight, bias = inputs
    out = expect_tensor(student.model(xb, weight, bias), "model")
    assert_close(out, xb @ weight + bias, "model(xb, weight, bias) should equal xb @ weight + bias.")


@pytest.mark.points(1)
@given(inputs=linear_inputs())
def test_model_returns_one_prediction_per_row(student, inputs):
    """model(xb, weight, bias) has shape (batch,): one prediction per row of xb."""
    xb, weight, bias = inputs
    out = expect_tensor(student.model(xb, weight, bias), "model")
    assert out.shape == (xb.shape[0],), (
        f"model(xb, weight, bias) with xb of shape {tuple(xb.shape)} and weight of shape "
        f"{tuple(weight.shape)} should have shape ({xb.shape[0]},), not {tuple(out.shape)}."
    )


@pytest.mark.points(1)
@given(pair=strategies.shapes(min_dims=1).flatmap(
    lambda shape: st.tuples(strategies.float_tensors(shape=shape, dtype=torch.float64),
                            strategies.float_tensors(shape=shape, dtype=torch.float64))))
def test_loss_fn_is_the_mean_of_squared_differences(student, pair):
    """loss_fn(input, target) equals the mean of (input - target) ** 2, a 0-dimensional tensor."""
    prediction, target = pair
    loss = expect_tensor(student.loss_fn(prediction, target), "loss_fn")
    assert loss.dim() == 0, f"loss_fn should return a scalar (0-dimensional) tensor, not shape {tuple(loss.shape)}."
    assert_close(loss, ((prediction - target) ** 2).mean(), "loss_fn should be the mean squared error.")


@pytest.mark.points(1)
def test_sgd_step_moves_each_parameter_against_its_gradient(student):
    """After sgd_step(params, lr) each parameter p equals p - lr * p.grad."""
    params = parameters_with_gradients()
    expected = [(p - 0.1 * p.grad).detach() for p in params]
    student.sgd_step(params, 0.1)
    for p, e in zip(params, expected):
        assert_close(p.detach(), e, "sgd_step should set each parameter p to p - learning_rate * p.grad.")


@pytest.mark.points(1)
def test_sgd_step_updates_in_place(student):
    """sgd_step changes the given tensors themselves, which stay leaves that require grad."""
    params = parameters_with_gradients()
    before = [(p.data_ptr(), p.detach().clone()) for p in params]
    student.sgd_step(params, 0.1)
    for p, (pointer, old) in zip(params, before):
        assert p.data_ptr() == pointer and not torch.equal(p.detach(), old), (
            "sgd_step should update each tensor in place (p -= ...); rebinding a name "
            "(p = p - ...) leaves the caller's tensors unchanged."
        )
        assert p.is_leaf and p.requires_grad, (
            "after sgd_step each parameter should still be a leaf tensor that requires grad: "
            "do the update inside torch.no_grad()."
        )


@pytest.mark.points(1)
def test_sgd_step_zeroes_gradients(student):
    """After sgd_step every parameter's gradient is zero."""
    params = parameters_with_gradients()
    student.sgd_step(params, 0.1)
    for p in params:
        assert p.grad is not None and not p.grad.any(), (
            "sgd_step should zero each gradient after the update (p.grad.zero_()); "
            "otherwise the next backward() adds to the old gradient."
        )


@pytest.mark.points(2)
def test_train_linear_regression_reproduces_the_lecture(student):
    """The lecture's run (seed 1, lr 0.001, 200 epochs) ends at its published weight and bias."""
    weight, bias, train_dl = lecture_start()
    student.train_linear_regression(train_dl, weight, bias, LECTURE_LEARNING_RATE, LECTURE_EPOCHS)
    assert_close(
        torch.stack([weight.detach()[0], bias.detach()[0]]), torch.tensor(LECTURE_BY_HAND),
        "After the lecture's run, (weight, bias) should be the lecture's final parameters.",
        rtol=1e-4, atol=1e-4,
    )


@pytest.mark.points(1)
def test_train_linear_regression_returns_epoch_mean_losses(student):
    """With learning rate 0 every epoch's entry is the mean squared error over the whole data set."""
    weight, bias, train_dl = lecture_start()
    dataset = toy_regression_dataset()
    with torch.no_grad():
        expected = ((dataset.tensors[0] @ weight + bias - dataset.tensors[1]) ** 2).mean().item()
    history = student.train_linear_regression(train_dl, weight, bias, 0.0, 3)
    history = expect_float_list(history, 3, "train_linear_regression's loss history")
    assert_close(
        torch.tensor(history), torch.full((3,), expected),
        "Each entry of the loss history should be the epoch's loss averaged over all its examples "
        "(sum of loss.item() * batch size, divided by the data set's size).",
    )


@pytest.mark.points(2)
def test_train_nn_regression_reproduces_the_lecture(student):
    """nn.Linear + optim.SGD, continuing the lecture's random stream, ends at its second pair of parameters."""
    _, _, train_dl = lecture_start()
    for _ in range(LECTURE_EPOCHS):  # replay the first run's shuffles without training
        for _ in train_dl:
            pass
    nn_model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(nn_model.parameters(), lr=LECTURE_LEARNING_RATE)
    student.train_nn_regression(nn_model, nn.MSELoss(), optimizer, train_dl, LECTURE_EPOCHS)
    assert_close(
        torch.stack([nn_model.weight.detach()[0, 0], nn_model.bias.detach()[0]]), torch.tensor(LECTURE_NN),
        "After the lecture's nn.Linear run, (weight, bias) should be the lecture's final parameters.",
        rtol=1e-4, atol=1e-4,
    )


@pytest.mark.points(1)
def test_train_nn_regression_returns_epoch_mean_losses(student):
    """With learning rate 0 every epoch's entry is the mean squared error over the whole data set."""
    dataset = toy_regression_dataset()
    nn_model = nn.Linear(1, 1)
    with torch.no_grad():
        expected = ((nn_model(dataset.tensors[0])[:, 0] - dataset.tensors[1]) ** 2).mean().item()
    optimizer = torch.optim.SGD(nn_model.parameters(), lr=0.0)
    train_dl = DataLoader(dataset, batch_size=3, shuffle=True)
    history = student.train_nn_regression(nn_model, nn.MSELoss(), optimizer, train_dl, 2)
    history = expect_float_list(history, 2, "train_nn_regression's loss history")
    assert_close(
        torch.tensor(history), torch.full((2,), expected),
        "Each entry of the loss history should be the epoch's loss averaged over all its examples "
        "(sum of loss.item() * batch size, divided by the data set's size).",
    )


@pytest.mark.points(1)
@given(learning_rate=st.sampled_from([0.001, 0.01, 0.1]), batch_size=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_train_linear_regression_matches_the_reference(student, reference, learning_rate, batch_size, seed):
    """train_linear_regression gives the reference's loss history and parameters for any seed, rate and batch size."""
    runs = []
    for submission in (student, reference):
        torch.manual_seed(seed)
        weight, bias = torch.randn(1).requires_grad_(), torch.zeros(1, requires_grad=True)
        train_dl = DataLoader(toy_regression_dataset(), batch_size=batch_size, shuffle=True)
        history = submission.train_linear_regression(train_dl, weight, bias, learning_rate, 3)
        runs.append((expect_float_list(history, 3, "the loss history"), weight.detach(), bias.detach()))
    (history, weight, bias), (ref_history, ref_weight, ref_bias) = runs
    what = f"With seed {seed}, learning rate {learning_rate} and batch size {batch_size}, "
    assert_close(torch.tensor(history), torch.tensor(ref_history), what + "the loss history should match the reference's.")
    assert_close(torch.cat([weight, bias]), torch.cat([ref_weight, ref_bias]), what + "the final parameters should match the reference's.")
