"""Part 2: the Iris multilayer perceptron: its architecture, training loop and accuracy.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import TensorDataset

from autograder.suite import probes, strategies
from autograder.suite.checks import (assert_close, expect_float_list, expect_mlp_state, expect_tensor,
                                     trained_as_the_reference)
from autograder.suite.histories import Batch, batches, expect_history
from autograder.suite.data import (IRIS_SIZES, iris_split, mlp_parameter_shapes, mlp_probabilities, random_parameters,
                                   trusted_accuracy)

pytestmark = pytest.mark.part("Part 2: the Iris MLP")

# The lecture's recipe: seed 1, batches of 2, Adam at 0.001, 100 epochs; it reaches 0.98 on the test set.
LECTURE = {"seed": 1, "batch_size": 2, "optimizer": "adam", "learning_rate": 0.001, "num_epochs": 100}
REQUIRED_TEST_ACCURACY = 0.9

iris_inputs = strategies.float_tensors(shape=st.tuples(st.integers(1, 8), st.just(4)), dtype=torch.float32)


@pytest.fixture(scope="module")
def iris():
    """The lecture's Iris split, standardized with the training set's mean and std."""
    return iris_split()


def expect_histories(result: object, epochs: int) -> tuple[list[float], list[float]]:
    """Fail unless ``result`` is ``(loss_hist, accuracy_hist)`` with one float per epoch in each."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, "train_mlp should return (loss_hist, accuracy_hist)."
    return expect_float_list(result[0], epochs, "loss_hist"), expect_float_list(result[1], epochs, "accuracy_hist")


@pytest.mark.checks("Model")
@pytest.mark.points(1)
@given(sizes=st.fixed_dictionaries({k: st.integers(1, 8) for k in IRIS_SIZES}))
def test_model_has_layer1_and_layer2_of_the_given_sizes(student, sizes):
    """Model(input_size, hidden_size, output_size) has nn.Linear layers layer1 and layer2 of those sizes."""
    expect_mlp_state(student.run(probes.model_parameters, sizes=sizes), sizes)


@pytest.mark.checks("Model")
@pytest.mark.points(1)
@given(X=iris_inputs)
def test_model_output_rows_are_probability_distributions(student, X):
    """Each row of Model(4, 16, 3)(X) is non-negative and sums to 1."""
    out = expect_tensor(student.run(probes.model_outputs, X=X)["output"],
                        f"Model(4, 16, 3) on X of shape {tuple(X.shape)}", (X.shape[0], 3))
    assert (out >= 0).all(), "Model's outputs should be probabilities, never negative: apply a softmax after layer2."
    assert_close(out.sum(dim=1), torch.ones(X.shape[0]), "Each row of Model's output should sum to 1: softmax over dim=1, the classes.")


@pytest.mark.checks("Model")
@pytest.mark.points(2)
@given(seed=st.integers(0, 2**16), X=iris_inputs)
def test_model_forward_is_softmax_of_layer2_of_sigmoid_of_layer1(student, seed, X):
    """Given parameters the grader drew, Model's forward computes softmax(layer2(sigmoid(layer1(x)))) over the classes."""
    # The parameters are the grader's, loaded into the student's Model: what it should output is computed from them
    # here, never from what the model says it holds.
    state = random_parameters(mlp_parameter_shapes(**IRIS_SIZES), seed)
    out = expect_tensor(student.run(probes.model_outputs_with_state, state=state, X=X), "Model's forward", (X.shape[0], 3))
    assert_close(out, mlp_probabilities(state, X), "Model's forward should be softmax(layer2(sigmoid(layer1(x))), dim=1).")


@st.composite
def model_inputs_and_labels(draw: st.DrawFn) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """The grader's model (``probes.Columns``: which input columns are its three class scores), inputs float32 (n, 4)
    and labels int64 (n,)."""
    columns = draw(st.permutations(range(4)))[:3]
    X = draw(strategies.float_tensors(shape=st.tuples(st.integers(1, 12), st.just(4)), dtype=torch.float32))
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=len(X), max_size=len(X))), dtype=torch.int64)
    return columns, X, labels


def predicted_accuracy(columns: list[int], X: torch.Tensor, labels: torch.Tensor) -> float:
    """The accuracy of the grader's model ``Columns(columns)`` on ``X``, computed here."""
    return (X[:, columns].argmax(dim=1) == labels).double().mean().item()


# The model's predictions are not the inputs' own argmax: an accuracy that ignores its model gets 0 here, not 1.
IGNORING_THE_MODEL = ([2, 0, 1], torch.tensor([[0.0, 1.0, 2.0, 3.0]]), torch.tensor([0]))


@pytest.mark.checks("accuracy")
@pytest.mark.points(1)
@example(inputs=IGNORING_THE_MODEL)
@given(inputs=model_inputs_and_labels())
def test_accuracy_is_the_fraction_of_correct_argmax_predictions(student, inputs):
    """accuracy(model, X, y) is the fraction of rows for which the model's argmax is the label, as a Python float."""
    columns, X, labels = inputs
    result = student.run(probes.accuracy_of_a_model, columns=columns, X=X, labels=labels)
    assert isinstance(result, float), f"accuracy should return a Python float (use .item()), not {type(result).__name__}."
    expected = predicted_accuracy(columns, X, labels)
    assert result == pytest.approx(expected), (
        f"accuracy should be the fraction of rows where the argmax of model(X) equals the label: expected {expected}, "
        f"got {result}."
    )


@pytest.fixture
def start(unforeseeable_seed: int) -> dict[str, torch.Tensor]:
    """Parameters of the lecture's MLP that the grader draws afresh each grading."""
    return random_parameters(mlp_parameter_shapes(**IRIS_SIZES), unforeseeable_seed)


def unforeseeable_run(start: dict[str, torch.Tensor], order_seed: int, students_model: bool) -> dict[str, object]:
    """A short run of the lecture's recipe from ``start``, in an order drawn from ``order_seed``."""
    return {"seed": 0, "batch_size": 4, "optimizer": "adam", "learning_rate": 0.01, "num_epochs": 3, "device": "cpu",
            "students_model": students_model, "initial": start, "order_seed": order_seed}


@pytest.mark.checks("train_mlp")
@pytest.mark.points(2)
def test_train_mlp_histories_are_epoch_averages(student, iris, start, unforeseeable_seed):
    """With learning rate 0, each epoch's loss and accuracy are those of the whole training set."""
    setup = {"seed": 0, "batch_size": 7, "optimizer": "sgd", "learning_rate": 0.0, "num_epochs": 2}
    run = student.run(probes.mlp_training_run, device="cpu", students_model=False, initial=start,
                      order_seed=unforeseeable_seed, **setup)
    loss_hist, accuracy_hist = expect_histories(run["histories"], 2)
    # Each batch the loop sees (batches of 7: the last holds 2), its loss and its right predictions, computed here.
    with torch.no_grad():
        seen = [[(len(y), mlp_probabilities(start, X), y) for X, y in epoch]
                for epoch in batches(TensorDataset(iris.X_train, iris.y_train), 7, unforeseeable_seed, 2)]
        losses = [[Batch(n, nn.CrossEntropyLoss()(p, y).item()) for n, p, y in epoch] for epoch in seen]
        counts = [[Batch(n, (p.argmax(dim=1) == y).sum().item()) for n, p, y in epoch] for epoch in seen]
    expect_history(loss_hist, losses, "loss_hist entry")
    expect_history(accuracy_hist, counts, "accuracy_hist entry", counts=True)


@pytest.mark.checks("train_mlp")
@pytest.mark.points(3)
@pytest.mark.uses("Model")
@pytest.mark.runs_early(probes.mlp_training_run, students_model=True, **LECTURE)
def test_train_mlp_reaches_90_percent_test_accuracy(student, reference_if_present, iris, device, extra_data, start,
                                                    unforeseeable_seed):
    """Trained with the lecture's recipe, Model reaches at least 0.9 accuracy on the held-out test set."""
    run = student.run(probes.mlp_training_run, device=device.type, students_model=True, **LECTURE)
    # The grader computes the accuracy itself, from the trained parameters.
    state = expect_mlp_state({"type": "Model", "state": run["final"]}, IRIS_SIZES)
    test_accuracy = trusted_accuracy(state, iris.X_test, iris.y_test)
    try:
        loss_hist, accuracy_hist = expect_histories(run["histories"], LECTURE["num_epochs"])
    except AssertionError:
        pass  # the train_mlp checks say what is wrong with the histories; this check is about accuracy
    else:
        extra_data["training_curves"] = {"loss": loss_hist, "accuracy": accuracy_hist, "test_accuracy": test_accuracy}
    assert test_accuracy >= REQUIRED_TEST_ACCURACY, (
        f"After the lecture's training run ({LECTURE['num_epochs']} epochs of Adam, lr {LECTURE['learning_rate']}, "
        f"batches of 2, on {device.type}) the test accuracy is {test_accuracy:.3f}; "
        f"it should be at least {REQUIRED_TEST_ACCURACY} (the lecture reaches 0.98)."
    )
    trained_as_the_reference(student, reference_if_present, probes.mlp_training_run,
                             unforeseeable_run(start, unforeseeable_seed, students_model=True), "train_mlp with Model")


@pytest.mark.checks("train_mlp")
@pytest.mark.points(2)
def test_train_mlp_matches_the_reference(student, reference, start, unforeseeable_seed):
    """train_mlp gives the reference's histories and parameters for the same start, data and order."""
    setup = unforeseeable_run(start, unforeseeable_seed, students_model=False)
    run, expected = (s.run(probes.mlp_training_run, **setup) for s in (student, reference))
    loss_hist, accuracy_hist = expect_histories(run["histories"], setup["num_epochs"])
    assert_close(torch.tensor(loss_hist), torch.tensor(expected["histories"][0]), "loss_hist should match the reference's.")
    assert_close(torch.tensor(accuracy_hist), torch.tensor(expected["histories"][1]), "accuracy_hist should match the reference's.")
    assert_close(run["final"], expected["final"], "The trained parameters should be the reference's.")


@pytest.mark.checks("Model")
@pytest.mark.points(0.5)
@given(seed=st.integers(0, 2**16), X=iris_inputs)
def test_model_forward_matches_the_reference(student, reference, seed, X):
    """Given the same parameters, Model's outputs are the reference Model's."""
    generator = torch.Generator().manual_seed(seed)
    state = {name: torch.randn(shape, generator=generator) for name, shape in mlp_parameter_shapes(**IRIS_SIZES).items()}
    out, expected = (s.run(probes.model_outputs_with_state, state=state, X=X) for s in (student, reference))
    assert_close(expect_tensor(out, "Model's forward", expected.shape), expected, "With the same parameters, Model should output what the reference's does.")


@pytest.mark.checks("accuracy")
@pytest.mark.points(0.5)
@given(inputs=model_inputs_and_labels())
def test_accuracy_matches_the_reference(student, reference, inputs):
    """accuracy gives the reference's value for the grader's model on generated inputs and labels."""
    columns, X, labels = inputs
    result, expected = (s.run(probes.accuracy_of_a_model, columns=columns, X=X, labels=labels)
                        for s in (student, reference))
    assert result == pytest.approx(expected), f"accuracy should be {expected}, as the reference says; got {result}."
