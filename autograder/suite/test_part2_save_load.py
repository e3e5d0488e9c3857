"""Part 2, continued: saving a trained model and loading it back.

PYTEST_DONT_REWRITE: a failed check shows its own message to the student, not pytest's introspection.
"""

import io

import pytest
import torch

from autograder.suite import probes
from autograder.suite.checks import assert_close, expect_tensor, load_weights_only
from autograder.suite.data import IRIS_SIZES, iris_split, mlp_parameter_shapes, mlp_probabilities, random_parameters

# Every check here builds the student's Model: where Model's own checks fail, they say to fix it first.
pytestmark = [pytest.mark.part("Part 2: saving and loading"), pytest.mark.uses("Model")]



@pytest.fixture(scope="module")
def X_test() -> torch.Tensor:
    """The lecture's standardized Iris test inputs, float32 (50, 4)."""
    return iris_split().X_test


@pytest.fixture
def random_state(unforeseeable_seed: int) -> dict[str, torch.Tensor]:
    """Parameters for an MLP of the lecture's sizes that the grader draws afresh each grading: a file that holds
    them was written for this grading."""
    return random_parameters(mlp_parameter_shapes(**IRIS_SIZES), unforeseeable_seed)


@pytest.mark.checks("save_model")
@pytest.mark.points(1)
def test_save_model_then_load_model_predicts_the_same(student, X_test, random_state):
    """A model saved with save_model and loaded with load_model in another process predicts what the saved one did."""
    saved = student.run(probes.saved_model_file, state=random_state)
    assert saved["file"], "save_model should write the model to a file at the given path."
    # A new process, which has nothing of the saved model but the file: an object kept in memory does not count.
    loaded = student.run_afresh(probes.model_loaded_from_file, file=saved["file"], X=X_test)
    # What the saved model predicted, computed here from the parameters the grader gave it, before save_model ran.
    assert_close(
        expect_tensor(loaded["output"], "the model from load_model", (len(X_test), 3)),
        mlp_probabilities(random_state, X_test),
        "The model load_model reads from the file should predict what the saved one did (a Model holding the "
        "parameters it was given).",
    )


@pytest.mark.checks("save_parameters")
@pytest.mark.points(1)
def test_save_parameters_writes_a_state_dict_that_loads_weights_only(student, X_test, random_state):
    """save_parameters writes the model's state dict, readable with torch.load(weights_only=True)."""
    result = student.run(probes.saved_parameters_file, state=random_state)
    assert result["file"], "save_parameters should write a file at the given path."
    try:
        saved = load_weights_only(result["file"], "The file from save_parameters")
    except Exception as error:
        pytest.fail(
            f"The file from save_parameters should load with torch.load(path, weights_only=True), "
            f"but that failed: {type(error).__name__}: {error}. Save model.state_dict(), not the model.",
            pytrace=False,
        )
    keys = sorted(mlp_parameter_shapes(**IRIS_SIZES))
    assert isinstance(saved, dict) and sorted(saved) == keys, (
        f"save_parameters should save model.state_dict(): a dict with the keys {keys}."
    )
    for name in keys:
        assert type(saved[name]) is torch.Tensor and torch.equal(saved[name], random_state[name]), (
            f"The saved {name} differs from the model's."
        )


@pytest.mark.checks("load_parameters")
@pytest.mark.points(1)
def test_load_parameters_restores_the_saved_predictions(student, X_test, random_state):
    """load_parameters, in another process, on a file from save_parameters gives a model that predicts what the saved
    one did."""
    saved = student.run(probes.saved_parameters_file, state=random_state)
    assert saved["file"], "save_parameters should write a file at the given path."
    loaded = student.run_afresh(probes.load_parameters_from_file, file=saved["file"], X=X_test)
    assert_close(
        expect_tensor(loaded["output"], "the model from load_parameters", (len(X_test), 3)),
        mlp_probabilities(random_state, X_test),
        "The model from load_parameters should predict what the saved one did (a Model holding the parameters it "
        "was given).",
    )


@pytest.mark.checks("load_parameters")
@pytest.mark.points(1)
def test_load_parameters_reads_parameters_saved_by_the_grader(student, X_test, random_state):
    """load_parameters loads a state dict written by torch.save into a Model with those parameters."""
    file = io.BytesIO()
    torch.save(random_state, file)
    result = student.run_afresh(probes.load_parameters_from_file, file=file.getvalue(), X=X_test)
    assert_close(
        expect_tensor(result["output"], "the model from load_parameters", (len(X_test), 3)),
        mlp_probabilities(random_state, X_test),
        "load_parameters should build Model(input_size, hidden_size, output_size) "
        "and load the file's parameters into it.",
    )


@pytest.mark.checks("load_parameters")
@pytest.mark.points(0.5)
def test_load_parameters_matches_the_reference(student, reference, X_test, random_state):
    """load_parameters on a file the grader wrote gives the reference's predictions."""
    file = io.BytesIO()
    torch.save(random_state, file)
    result = student.run_afresh(probes.load_parameters_from_file, file=file.getvalue(), X=X_test)
    expected = reference.run(probes.load_parameters_from_file, file=file.getvalue(), X=X_test)
    assert_close(expect_tensor(result["output"], "the model from load_parameters", expected["output"].shape), expected["output"],
                 "The model from load_parameters should predict what the reference's does.")
