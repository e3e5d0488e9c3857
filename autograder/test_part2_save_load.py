"""Part 2, continued: saving a trained model and loading it back.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import pytest
import torch
from torch import nn

from autograder.checks import assert_close, expect_tensor
from autograder.data import IRIS_SIZES, iris_split, mlp_parameter_shapes, mlp_probabilities

pytestmark = pytest.mark.part("Part 2: saving and loading")


@pytest.fixture(scope="module")
def X_test() -> torch.Tensor:
    """The lecture's standardized Iris test inputs, float32 (50, 4)."""
    return iris_split().X_test


@pytest.fixture
def random_state() -> dict[str, torch.Tensor]:
    """Random parameters for an MLP of the lecture's sizes, made by the grader."""
    generator = torch.Generator().manual_seed(7)
    return {name: torch.randn(shape, generator=generator) for name, shape in mlp_parameter_shapes(**IRIS_SIZES).items()}


def predictions(model: object, X: torch.Tensor, what: str) -> torch.Tensor:
    """The model's outputs on ``X``, checked to be a tensor of one probability row per input."""
    assert isinstance(model, nn.Module), f"{what} should give an nn.Module, not a {type(model).__name__}."
    with torch.no_grad():
        return expect_tensor(model(X), f"the forward of the model from {what}")


@pytest.mark.points(1)
def test_save_model_then_load_model_predicts_the_same(student, X_test, tmp_path):
    """A model saved with save_model and loaded with load_model gives the same predictions."""
    model = student.Model(**IRIS_SIZES)
    path = tmp_path / "model.pt"
    student.save_model(model, str(path))
    assert path.is_file(), "save_model should write a file at the given path."
    loaded = student.load_model(str(path))
    assert loaded is not model, "load_model should build a new model from the file."
    assert_close(
        predictions(loaded, X_test, "load_model"), predictions(model, X_test, "Model"),
        "The reloaded model should predict exactly what the saved one does.", rtol=0, atol=0,
    )


@pytest.mark.points(1)
def test_save_parameters_writes_a_state_dict_that_loads_weights_only(student, tmp_path):
    """save_parameters writes the model's state dict, readable with torch.load(weights_only=True)."""
    model = student.Model(**IRIS_SIZES)
    path = tmp_path / "params.pt"
    student.save_parameters(model, str(path))
    try:
        saved = torch.load(path, weights_only=True)
    except Exception as error:
        pytest.fail(
            f"The file from save_parameters should load with torch.load(path, weights_only=True), "
            f"but that failed: {type(error).__name__}: {error}. Save model.state_dict(), not the model.",
            pytrace=False,
        )
    assert isinstance(saved, dict) and set(saved) == set(mlp_parameter_shapes(**IRIS_SIZES)), (
        "save_parameters should save model.state_dict(): a dict with the keys "
        f"{sorted(mlp_parameter_shapes(**IRIS_SIZES))}."
    )
    for name, tensor in model.state_dict().items():
        assert torch.equal(saved[name], tensor), f"The saved {name} differs from the model's."


@pytest.mark.points(1)
def test_load_parameters_restores_the_saved_predictions(student, X_test, tmp_path):
    """load_parameters on a file from save_parameters gives a model with the same predictions."""
    model = student.Model(**IRIS_SIZES)
    path = tmp_path / "params.pt"
    student.save_parameters(model, str(path))
    loaded = student.load_parameters(str(path), **IRIS_SIZES)
    assert_close(
        predictions(loaded, X_test, "load_parameters"), predictions(model, X_test, "Model"),
        "The model from load_parameters should predict exactly what the saved one does.", rtol=0, atol=0,
    )


@pytest.mark.points(1)
def test_load_parameters_reads_parameters_saved_by_the_grader(student, X_test, random_state, tmp_path):
    """load_parameters loads a state dict written by torch.save into a Model with those parameters."""
    path = tmp_path / "grader_params.pt"
    torch.save(random_state, path)
    loaded = student.load_parameters(str(path), **IRIS_SIZES)
    assert_close(
        predictions(loaded, X_test, "load_parameters"), mlp_probabilities(random_state, X_test),
        "load_parameters should build Model(input_size, hidden_size, output_size) "
        "and load the file's parameters into it.",
    )
