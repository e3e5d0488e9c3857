"""Part 2: the Iris multilayer perceptron: its architecture, training loop and accuracy.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder import strategies
from autograder.checks import assert_close, expect_float_list, expect_tensor
from autograder.data import IRIS_SIZES, iris_split, mlp_parameter_shapes, mlp_probabilities, trusted_accuracy

pytestmark = pytest.mark.part("Part 2: the Iris MLP")

# The lecture's recipe: seed 1, batches of 2, Adam at 0.001, 100 epochs; it reaches 0.98 on the test set.
LECTURE_EPOCHS = 100
LECTURE_LEARNING_RATE = 0.001
REQUIRED_TEST_ACCURACY = 0.9


@pytest.fixture(scope="module")
def iris():
    """The lecture's Iris split, standardized with the training set's mean and std."""
    return iris_split()


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters by name, detached, on the CPU."""
    return {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}


def expect_mlp_state(model: object, sizes: dict[str, int]) -> dict[str, torch.Tensor]:
    """Fail unless ``model`` is a module with exactly the layers of the assignment's ``Model``."""
    assert isinstance(model, nn.Module), f"Model(...) should build an nn.Module, not a {type(model).__name__}."
    state = state_of(model)
    expected = mlp_parameter_shapes(**sizes)
    actual = {name: tuple(tensor.shape) for name, tensor in state.items()}
    assert actual == expected, (
        f"Model{tuple(sizes.values())} should have exactly the parameters {expected} "
        f"(layer1 and layer2 as nn.Linear), but has {actual}."
    )
    return state


@pytest.mark.points(1)
@given(sizes=st.fixed_dictionaries({k: st.integers(1, 8) for k in IRIS_SIZES}))
def test_model_has_layer1_and_layer2_of_the_given_sizes(student, sizes):
    """Model(input_size, hidden_size, output_size) has nn.Linear layers layer1 and layer2 of those sizes."""
    expect_mlp_state(student.Model(**sizes), sizes)


@pytest.mark.points(1)
@given(X=strategies.float_tensors(shape=st.tuples(st.integers(1, 8), st.just(4)), dtype=torch.float32))
def test_model_output_rows_are_probability_distributions(student, X):
    """Each row of Model(4, 16, 3)(X) is non-negative and sums to 1."""
    out = expect_tensor(student.Model(**IRIS_SIZES)(X), "Model's forward")
    assert out.shape == (X.shape[0], 3), f"Model(4, 16, 3) on X of shape {tuple(X.shape)} should give shape ({X.shape[0]}, 3), not {tuple(out.shape)}."
    assert (out >= 0).all(), "Model's outputs should be probabilities, never negative: apply a softmax after layer2."
    assert_close(out.sum(dim=1).detach(), torch.ones(X.shape[0]), "Each row of Model's output should sum to 1: softmax over dim=1, the classes.")


@pytest.mark.points(2)
@given(X=strategies.float_tensors(shape=st.tuples(st.integers(1, 8), st.just(4)), dtype=torch.float32))
def test_model_forward_is_softmax_of_layer2_of_sigmoid_of_layer1(student, X):
    """Model's forward computes softmax(layer2(sigmoid(layer1(x)))) over the classes."""
    model = student.Model(**IRIS_SIZES)
    state = expect_mlp_state(model, IRIS_SIZES)
    out = expect_tensor(model(X), "Model's forward")
    assert_close(
        out.detach(), mlp_probabilities(state, X),
        "Model's forward should be softmax(layer2(sigmoid(layer1(x))), dim=1).",
    )


@pytest.mark.points(1)
@given(scores=strategies.float_tensors(shape=st.tuples(st.integers(1, 12), st.just(3)), dtype=torch.float32),
       data=st.data())
def test_accuracy_is_the_fraction_of_correct_argmax_predictions(student, scores, data):
    """accuracy(model, X, y) is the fraction of rows whose argmax is the label, as a Python float."""
    labels = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=len(scores), max_size=len(scores))))
    result = student.accuracy(nn.Identity(), scores, labels)
    assert isinstance(result, float), f"accuracy should return a Python float (use .item()), not {type(result).__name__}."
    expected = (scores.argmax(dim=1) == labels).double().mean().item()
    assert result == pytest.approx(expected), (
        f"accuracy should be the fraction of rows whose argmax equals the label: "
        f"expected {expected}, got {result}."
    )


@pytest.mark.points(2)
def test_train_mlp_histories_are_epoch_averages(student, iris):
    """With learning rate 0, each epoch's loss and accuracy are those of the whole training set."""
    model = student.Model(**IRIS_SIZES)
    state = expect_mlp_state(model, IRIS_SIZES)
    loss_fn = nn.CrossEntropyLoss()
    with torch.no_grad():
        expected_loss = loss_fn(mlp_probabilities(state, iris.X_train), iris.y_train).item()
    expected_accuracy = trusted_accuracy(state, iris.X_train, iris.y_train)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    train_dl = DataLoader(TensorDataset(iris.X_train, iris.y_train), batch_size=7, shuffle=True)
    histories = student.train_mlp(model, train_dl, loss_fn, optimizer, 2)
    assert isinstance(histories, tuple) and len(histories) == 2, "train_mlp should return (loss_hist, accuracy_hist)."
    loss_hist = expect_float_list(histories[0], 2, "loss_hist")
    accuracy_hist = expect_float_list(histories[1], 2, "accuracy_hist")
    assert_close(
        torch.tensor(loss_hist), torch.full((2,), expected_loss),
        "loss_hist[epoch] should be the loss averaged over all the epoch's examples "
        "(sum of loss.item() * batch size, divided by the data set's size), not only the last batch's.",
    )
    assert_close(
        torch.tensor(accuracy_hist), torch.full((2,), expected_accuracy),
        "accuracy_hist[epoch] should be the fraction of all the epoch's examples predicted right, "
        "counted inside the batch loop.",
    )


@pytest.mark.points(3)
def test_train_mlp_reaches_90_percent_test_accuracy(student, iris, device):
    """Trained with the lecture's recipe, Model reaches at least 0.9 accuracy on the held-out test set."""
    torch.manual_seed(1)
    train_dl = DataLoader(TensorDataset(iris.X_train.to(device), iris.y_train.to(device)), batch_size=2, shuffle=True)
    model = student.Model(**IRIS_SIZES).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LECTURE_LEARNING_RATE)
    student.train_mlp(model, train_dl, nn.CrossEntropyLoss(), optimizer, LECTURE_EPOCHS)
    # The grader computes the accuracy itself, from the trained parameters.
    test_accuracy = trusted_accuracy(expect_mlp_state(model, IRIS_SIZES), iris.X_test, iris.y_test)
    assert test_accuracy >= REQUIRED_TEST_ACCURACY, (
        f"After the lecture's training run ({LECTURE_EPOCHS} epochs of Adam, lr {LECTURE_LEARNING_RATE}, "
        f"batches of 2, on {device.type}) the test accuracy is {test_accuracy:.3f}; "
        f"it should be at least {REQUIRED_TEST_ACCURACY} (the lecture reaches 0.98)."
    )


@pytest.mark.points(2)
def test_train_mlp_matches_the_reference(student, reference, iris):
    """train_mlp gives the reference's loss and accuracy histories for the same seed, data and model."""
    histories = []
    for submission in (student, reference):
        torch.manual_seed(3)
        train_dl = DataLoader(TensorDataset(iris.X_train, iris.y_train), batch_size=4, shuffle=True)
        model = reference.Model(**IRIS_SIZES)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        result = submission.train_mlp(model, train_dl, nn.CrossEntropyLoss(), optimizer, 5)
        assert isinstance(result, tuple) and len(result) == 2, "train_mlp should return (loss_hist, accuracy_hist)."
        histories.append([expect_float_list(h, 5, "each history") for h in result])
    (loss_hist, accuracy_hist), (ref_loss_hist, ref_accuracy_hist) = histories
    assert_close(torch.tensor(loss_hist), torch.tensor(ref_loss_hist), "loss_hist should match the reference's.")
    assert_close(torch.tensor(accuracy_hist), torch.tensor(ref_accuracy_hist), "accuracy_hist should match the reference's.")
