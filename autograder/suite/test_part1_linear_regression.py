"""Part 1: linear regression with bare tensors, then with torch.nn and torch.optim.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.boundary.channel import SharedBuffer
from autograder.suite import probes, strategies
from autograder.suite.checks import assert_close, expect_float_list, expect_tensor, trained_as_the_reference
from autograder.suite.histories import Batch, batches, expect_history
from autograder.suite.data import random_parameters, toy_regression_dataset

pytestmark = pytest.mark.part("Part 1: linear regression")

# The lecture's final (weight, bias) after 200 epochs at learning rate 0.001, from seed 1.
LECTURE_BY_HAND = (2.6696107387542725, 4.879678249359131)
LECTURE_NN = (2.6496422290802, 4.87706995010376)
LECTURE = {"seed": 1, "batch_size": 1, "learning_rate": 0.001, "num_epochs": 200}
# Two parameters and the gradients a backward pass would have left in them.
SGD_VALUES = [torch.tensor([1.0, -2.0]), torch.tensor([0.5])]
SGD_GRADS = [torch.tensor([3.0, 4.0]), torch.tensor([5.0])]


@st.composite
def linear_inputs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(xb, weight, bias)`` of shapes (batch, features), (features,), (1,), one dtype."""
    batch, features = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    dtype = draw(strategies.float_dtypes())
    xb = draw(strategies.float_tensors(shape=(batch, features), dtype=dtype))
    weight = draw(strategies.float_tensors(shape=(features,), dtype=dtype))
    bias = draw(strategies.float_tensors(shape=(1,), dtype=dtype))
    return xb, weight, bias


@pytest.mark.checks("model")
@pytest.mark.points(1)
@given(inputs=linear_inputs())
def test_model_is_xb_at_weight_plus_bias(student, inputs):
    """model(xb, weight, bias) equals xb @ weight + bias."""
    xb, weight, bias = inputs
    out = expect_tensor(student.model(xb, weight, bias), "model", (xb.shape[0],))
    assert_close(out, xb @ weight + bias, "model(xb, weight, bias) should equal xb @ weight + bias.")


@pytest.mark.checks("model")
@pytest.mark.points(1)
@given(inputs=linear_inputs())
def test_model_returns_one_prediction_per_row(student, inputs):
    """model(xb, weight, bias) has shape (batch,): one prediction per row of xb."""
    xb, weight, bias = inputs
    expect_tensor(student.model(xb, weight, bias),
                  f"model(xb, weight, bias) with xb of shape {tuple(xb.shape)} and weight of shape {tuple(weight.shape)}",
                  (xb.shape[0],))


@pytest.mark.checks("loss_fn")
@pytest.mark.points(1)
@given(pair=strategies.shapes(min_dims=1).flatmap(
    lambda shape: st.tuples(strategies.float_tensors(shape=shape, dtype=torch.float64),
                            strategies.float_tensors(shape=shape, dtype=torch.float64))))
def test_loss_fn_is_the_mean_of_squared_differences(student, pair):
    """loss_fn(input, target) equals the mean of (input - target) ** 2, a 0-dimensional tensor."""
    prediction, target = pair
    loss = expect_tensor(student.loss_fn(prediction, target), "loss_fn (a scalar: 0-dimensional)", ())
    assert_close(loss, ((prediction - target) ** 2).mean(), "loss_fn should be the mean squared error.")


@pytest.mark.checks("sgd_step")
@pytest.mark.points(1)
def test_sgd_step_moves_each_parameter_against_its_gradient(student):
    """After sgd_step(params, lr) each parameter p equals p - lr * p.grad."""
    after = student.run(probes.sgd_step_update, values=SGD_VALUES, grads=SGD_GRADS, learning_rate=0.1)
    for value, before, grad in zip(after["values"], SGD_VALUES, SGD_GRADS):
        assert_close(value, before - 0.1 * grad, "sgd_step should set each parameter p to p - learning_rate * p.grad.")


@pytest.mark.checks("sgd_step")
@pytest.mark.points(1)
def test_sgd_step_updates_in_place(student):
    """sgd_step changes the given tensors in place, and they stay leaves that require grad."""
    memory = SharedBuffer(torch.cat([value.flatten() for value in SGD_VALUES]).numpy().tobytes())
    try:
        after = student.run(probes.sgd_step_update, values=SGD_VALUES, grads=SGD_GRADS, learning_rate=0.1,
                            memory=memory)
        # What the parameters' own memory holds now, read by the grader itself.
        in_memory = torch.frombuffer(bytearray(memory.read()), dtype=torch.float32)
    finally:
        memory.close()
    values = [expect_tensor(value, "a parameter after sgd_step", before.shape)
              for value, before in zip(after["values"], SGD_VALUES)]
    written = list(in_memory.split([value.numel() for value in SGD_VALUES]))
    assert any(not torch.equal(value, before) for value, before in zip(values, SGD_VALUES)), (
        "sgd_step left the caller's parameters as they were: rebinding a name inside it (p = p - ...) changes "
        "nothing outside. Update each tensor in place (an in-place operator or method), inside torch.no_grad()."
    )
    assert all(torch.equal(old.view(new.shape), new) for old, new in zip(written, values)), (
        "sgd_step gave the parameters new values in new memory (p.data = p.data - ... replaces a tensor's storage), "
        "so whatever still shares the old memory (a view, an optimizer's state) keeps the old values. "
        "Update each tensor in place instead, writing into its own memory, inside torch.no_grad()."
    )
    assert all(after["leaf_requires_grad"]), (
        "after sgd_step each parameter should still be a leaf tensor that requires grad: "
        "do the update inside torch.no_grad()."
    )


@pytest.mark.checks("sgd_step")
@pytest.mark.points(1)
def test_sgd_step_leaves_the_next_backward_starting_from_zero(student):
    """After sgd_step the next backward() gives each parameter its new gradient, not the old one added to it."""
    after = student.run(probes.sgd_step_update, values=SGD_VALUES, grads=SGD_GRADS, learning_rate=0.1)
    assert after["next_grads"] is not None, "after sgd_step each parameter should still be a leaf tensor that requires grad."
    for grad, value in zip(after["next_grads"], SGD_VALUES):
        assert_close(grad, torch.full_like(value, probes.NEXT_GRADIENT),
                     "sgd_step should reset each gradient after the update (to zeros, or to None as "
                     "optimizer.zero_grad() does); otherwise the next backward() adds to the old gradient.")


@pytest.fixture
def start(unforeseeable_seed: int) -> dict[str, torch.Tensor]:
    """A weight and a bias the grader draws afresh each grading, as ``nn.Linear(1, 1)`` holds them."""
    return random_parameters({"weight": (1, 1), "bias": (1,)}, unforeseeable_seed)


def unforeseeable_run(order_seed: int) -> dict[str, object]:
    """A short training run whose order is drawn from ``order_seed`` (its start is given apart)."""
    return {"seed": 0, "batch_size": 3, "learning_rate": 0.01, "num_epochs": 5, "order_seed": order_seed}


@pytest.mark.checks("train_linear_regression")
@pytest.mark.points(2)
def test_train_linear_regression_reproduces_the_lecture(student, reference_if_present, start, unforeseeable_seed):
    """The lecture's run (seed 1, lr 0.001, 200 epochs) ends at its published weight and bias, by training."""
    run = student.run(probes.linear_regression_run, **LECTURE)
    assert_close(
        run["final"], torch.tensor(LECTURE_BY_HAND),
        "After the lecture's run, (weight, bias) should be the lecture's final parameters.",
        rtol=1e-4, atol=1e-4,
    )
    initial = torch.cat([start["weight"][0], start["bias"]])
    trained_as_the_reference(student, reference_if_present, probes.linear_regression_run,
                             {**unforeseeable_run(unforeseeable_seed), "initial": initial}, "train_linear_regression")


def line_epochs(weight: torch.Tensor, bias: torch.Tensor, order_seed: int, epochs: int) -> list[list[Batch]]:
    """The batches of 3 (3, 3, 3 and 1) a loop over the toy data sees, each with its mean squared error under the line
    ``x * weight + bias``: computed here."""
    return [[Batch(len(y), ((x[:, 0] * weight + bias - y) ** 2).mean().item()) for x, y in epoch]
            for epoch in batches(toy_regression_dataset(), 3, order_seed, epochs)]


@pytest.mark.checks("train_linear_regression")
@pytest.mark.points(1)
def test_train_linear_regression_returns_epoch_mean_losses(student, start, unforeseeable_seed):
    """At learning rate 0 each epoch's entry of train_linear_regression's history is the whole data's mean squared error."""
    # Batches of 3, 3, 3 and 1: a plain mean of the batch losses would differ.
    initial = torch.cat([start["weight"][0], start["bias"]])
    run = student.run(probes.linear_regression_run, seed=1, batch_size=3, learning_rate=0.0, num_epochs=3,
                      initial=initial, order_seed=unforeseeable_seed)
    history = expect_float_list(run["history"], 3, "train_linear_regression's loss history")
    expect_history(history, line_epochs(*initial, unforeseeable_seed, 3), "loss")


@pytest.mark.checks("train_nn_regression")
@pytest.mark.points(2)
def test_train_nn_regression_reproduces_the_lecture(student, reference_if_present, start, unforeseeable_seed):
    """nn.Linear + optim.SGD, continuing the lecture's random stream, ends at its second pair of parameters, by training."""
    run = student.run(probes.nn_regression_run, replay_epochs=LECTURE["num_epochs"], **LECTURE)
    final = torch.stack([run["final"]["weight"][0, 0], run["final"]["bias"][0]])
    assert_close(
        final, torch.tensor(LECTURE_NN),
        "After the lecture's nn.Linear run, (weight, bias) should be the lecture's final parameters.",
        rtol=1e-4, atol=1e-4,
    )
    trained_as_the_reference(student, reference_if_present, probes.nn_regression_run,
                             {**unforeseeable_run(unforeseeable_seed), "replay_epochs": 0, "initial": start},
                             "train_nn_regression")


@pytest.mark.checks("train_nn_regression")
@pytest.mark.points(1)
def test_train_nn_regression_returns_epoch_mean_losses(student, start, unforeseeable_seed):
    """At learning rate 0 each epoch's entry of train_nn_regression's history is the whole data's mean squared error."""
    run = student.run(probes.nn_regression_run, seed=0, replay_epochs=0, batch_size=3, learning_rate=0.0, num_epochs=2,
                      initial=start, order_seed=unforeseeable_seed)
    history = expect_float_list(run["history"], 2, "train_nn_regression's loss history")
    expect_history(history, line_epochs(start["weight"][0, 0], start["bias"][0], unforeseeable_seed, 2), "loss")


@pytest.mark.checks("train_linear_regression")
@pytest.mark.points(1)
@given(learning_rate=st.sampled_from([0.001, 0.01, 0.1]), batch_size=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_train_linear_regression_matches_the_reference(student, reference, learning_rate, batch_size, seed):
    """train_linear_regression gives the reference's loss history and parameters for any seed, rate and batch size."""
    setup = {"seed": seed, "batch_size": batch_size, "learning_rate": learning_rate, "num_epochs": 3}
    run, expected = (s.run(probes.linear_regression_run, **setup) for s in (student, reference))
    history = expect_float_list(run["history"], 3, "the loss history")
    what = f"With seed {seed}, learning rate {learning_rate} and batch size {batch_size}, "
    assert_close(torch.tensor(history), torch.tensor(expected["history"]), what + "the loss history should match the reference's.")
    assert_close(run["final"], expected["final"], what + "the final parameters should match the reference's.")


@pytest.mark.checks("model")
@pytest.mark.points(0.5)
@given(inputs=linear_inputs())
def test_model_matches_the_reference(student, reference, inputs):
    """model gives the reference's predictions on generated inputs."""
    out = expect_tensor(student.model(*inputs), "model", (inputs[0].shape[0],))
    assert_close(out, reference.model(*inputs), "model should predict what the reference predicts.")


@pytest.mark.checks("loss_fn")
@pytest.mark.points(0.5)
@given(pair=strategies.shapes(min_dims=1).flatmap(
    lambda shape: st.tuples(strategies.float_tensors(shape=shape), strategies.float_tensors(shape=shape))))
def test_loss_fn_matches_the_reference(student, reference, pair):
    """loss_fn gives the reference's loss on generated predictions and targets."""
    prediction, target = (t.to(pair[0].dtype) for t in pair)
    loss = expect_tensor(student.loss_fn(prediction, target), "loss_fn", ())
    assert_close(loss, reference.loss_fn(prediction, target), "loss_fn should give the reference's loss.")


@pytest.mark.checks("sgd_step")
@pytest.mark.points(0.5)
@given(values=st.lists(strategies.float_tensors(shape=strategies.shapes(min_dims=1), dtype=torch.float32), min_size=1, max_size=3),
       learning_rate=st.sampled_from([0.0, 0.001, 0.1, 1.0]))
def test_sgd_step_matches_the_reference(student, reference, values, learning_rate):
    """sgd_step updates parameters, and resets gradients for the next backward, as the reference does."""
    grads = [value.flip(list(range(value.dim()))) for value in values]
    after, expected = (s.run(probes.sgd_step_update, values=values, grads=grads, learning_rate=learning_rate)
                       for s in (student, reference))
    assert_close(after["values"], expected["values"], "sgd_step should update the parameters as the reference does.")
    assert_close(after["next_grads"], expected["next_grads"],
                 "After sgd_step, the next backward() should give the gradients it gives after the reference's.")


@pytest.mark.checks("train_nn_regression")
@pytest.mark.points(0.5)
@given(learning_rate=st.sampled_from([0.001, 0.01, 0.1]), batch_size=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_train_nn_regression_matches_the_reference(student, reference, learning_rate, batch_size, seed):
    """train_nn_regression gives the reference's loss history and parameters for any seed, rate and batch size."""
    setup = {"seed": seed, "replay_epochs": 0, "batch_size": batch_size, "learning_rate": learning_rate, "num_epochs": 3}
    run, expected = (s.run(probes.nn_regression_run, **setup) for s in (student, reference))
    history = expect_float_list(run["history"], 3, "the loss history")
    what = f"With seed {seed}, learning rate {learning_rate} and batch size {batch_size}, "
    assert_close(torch.tensor(history), torch.tensor(expected["history"]), what + "the loss history should match the reference's.")
    assert_close(run["final"], expected["final"], what + "the final parameters should match the reference's.")
