"""Known-wrong implementations: each must lose points in the check meant to catch it.

A mutant is the reference notebooks with one plausible mistake written in. The mutants are
graded the way an instructor grades a class (``grade-all``, the reference present), so
comparisons with the reference count too: one class per notebook, each grading only the parts of
the notebook its mutants change (the rest is the reference). None may reach full marks, and the
check named for it must fail.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR
from tests.conftest import grade_by_notebook

pytestmark = pytest.mark.slow

LINEAR, MLP, ACTIVATIONS = "01_linear_regression.ipynb", "02_iris_mlp.ipynb", "03_activations.ipynb"


@dataclass(frozen=True)
class Mutant:
    """In ``notebook``, ``old`` (which occurs exactly once) becomes ``new``; ``caught_by`` must fail."""

    notebook: str
    old: str
    new: str
    caught_by: str


MUTANTS = {
    # model
    "model_multiplies_elementwise": Mutant(LINEAR, "return xb @ weight + bias", "return xb * weight + bias",
                                           "test_model_returns_one_prediction_per_row"),
    "model_forgets_the_bias": Mutant(LINEAR, "return xb @ weight + bias", "return xb @ weight",
                                     "test_model_is_xb_at_weight_plus_bias"),
    "model_subtracts_the_bias": Mutant(LINEAR, "return xb @ weight + bias", "return xb @ weight - bias",
                                       "test_model_is_xb_at_weight_plus_bias"),
    # loss_fn
    "loss_sums": Mutant(LINEAR, "return (input - target).pow(2).mean()", "return (input - target).pow(2).sum()",
                        "test_loss_fn_is_the_mean_of_squared_differences"),
    "loss_is_absolute": Mutant(LINEAR, "return (input - target).pow(2).mean()", "return (input - target).abs().mean()",
                               "test_loss_fn_is_the_mean_of_squared_differences"),
    "loss_with_a_typo": Mutant(LINEAR, "return (input - target).pow(2).mean()", "return (input - targt).pow(2).mean()",
                               "test_loss_fn_is_the_mean_of_squared_differences"),
    "loss_forgets_to_square": Mutant(LINEAR, "return (input - target).pow(2).mean()", "return (input - target).mean()",
                                     "test_loss_fn_is_the_mean_of_squared_differences"),
    # sgd_step
    "sgd_climbs_the_gradient": Mutant(LINEAR, "p -= learning_rate * p.grad", "p += learning_rate * p.grad",
                                      "test_sgd_step_moves_each_parameter_against_its_gradient"),
    "sgd_ignores_the_learning_rate": Mutant(LINEAR, "p -= learning_rate * p.grad", "p -= p.grad",
                                            "test_sgd_step_moves_each_parameter_against_its_gradient"),
    "sgd_keeps_gradients": Mutant(LINEAR, "            p.grad.zero_()\n", "",
                                  "test_sgd_step_leaves_the_next_backward_starting_from_zero"),
    "sgd_rebinds_instead_of_updating_in_place": Mutant(
        LINEAR, "p -= learning_rate * p.grad", "p.data = p.data - learning_rate * p.grad",
        "test_sgd_step_updates_in_place"),
    # train_linear_regression
    "linear_training_records_the_last_batch_only": Mutant(
        LINEAR, "sgd_step([weight, bias], learning_rate)\n            total_loss += loss.item() * y_batch.size(0)",
        "sgd_step([weight, bias], learning_rate)\n            total_loss = loss.item() * len(train_dl.dataset)",
        "test_train_linear_regression_returns_epoch_mean_losses"),
    "linear_training_averages_batch_means": Mutant(
        LINEAR, "sgd_step([weight, bias], learning_rate)\n            total_loss += loss.item() * y_batch.size(0)",
        "sgd_step([weight, bias], learning_rate)\n            total_loss += loss.item()",
        "test_train_linear_regression_returns_epoch_mean_losses"),
    "linear_training_skips_an_epoch": Mutant(
        LINEAR, "    for _ in range(num_epochs):\n        total_loss = 0.0\n        for x_batch, y_batch in train_dl:\n            loss = loss_fn(model(x_batch, weight",
        "    for _ in range(num_epochs - 1):\n        total_loss = 0.0\n        for x_batch, y_batch in train_dl:\n            loss = loss_fn(model(x_batch, weight",
        "test_train_linear_regression_reproduces_the_lecture"),
    # train_nn_regression
    "nn_training_never_zeroes_gradients": Mutant(
        LINEAR, "            optimizer.step()\n            optimizer.zero_grad()\n", "            optimizer.step()\n",
        "test_train_nn_regression_reproduces_the_lecture"),
    "nn_training_keeps_the_output_column": Mutant(
        LINEAR, "loss = loss_fn(model(x_batch)[:, 0], y_batch)", "loss = loss_fn(model(x_batch), y_batch)",
        "test_train_nn_regression_returns_epoch_mean_losses"),
    # Model
    "model_without_softmax": Mutant(MLP, "return torch.softmax(self.layer2(x), dim=1)", "return self.layer2(x)",
                                    "test_model_output_rows_are_probability_distributions"),
    "model_softmax_over_the_batch": Mutant(MLP, "return torch.softmax(self.layer2(x), dim=1)",
                                           "return torch.softmax(self.layer2(x), dim=0)",
                                           "test_model_output_rows_are_probability_distributions"),
    "model_with_relu_hidden_layer": Mutant(MLP, "x = torch.sigmoid(self.layer1(x))", "x = torch.relu(self.layer1(x))",
                                           "test_model_forward_is_softmax_of_layer2_of_sigmoid_of_layer1"),
    "model_without_hidden_activation": Mutant(MLP, "x = torch.sigmoid(self.layer1(x))", "x = self.layer1(x)",
                                              "test_model_forward_is_softmax_of_layer2_of_sigmoid_of_layer1"),
    "model_with_a_wrong_layer_size": Mutant(MLP, "self.layer1 = nn.Linear(input_size, hidden_size)",
                                            "self.layer1 = nn.Linear(input_size, hidden_size + 1)",
                                            "test_model_has_layer1_and_layer2_of_the_given_sizes"),
    # train_mlp
    "mlp_training_counts_the_last_batch_only": Mutant(
        MLP, "total_loss += loss.item() * y_batch.size(0)", "total_loss = loss.item() * num_examples",
        "test_train_mlp_histories_are_epoch_averages"),
    "mlp_training_averages_batch_means": Mutant(
        MLP, "total_loss += loss.item() * y_batch.size(0)", "total_loss += loss.item()",
        "test_train_mlp_histories_are_epoch_averages"),
    "mlp_training_reports_correct_counts": Mutant(
        MLP, "accuracy_hist.append(total_correct / num_examples)", "accuracy_hist.append(total_correct)",
        "test_train_mlp_histories_are_epoch_averages"),
    "mlp_training_never_zeroes_gradients": Mutant(
        MLP, "            optimizer.step()\n            optimizer.zero_grad()\n", "            optimizer.step()\n",
        "test_train_mlp_matches_the_reference"),
    "mlp_training_never_steps": Mutant(MLP, "            optimizer.step()\n", "",
                                       "test_train_mlp_reaches_90_percent_test_accuracy"),
    # accuracy
    "accuracy_returns_a_tensor": Mutant(MLP, "return (torch.argmax(pred, dim=1) == y).float().mean().item()",
                                        "return (torch.argmax(pred, dim=1) == y).float().mean()",
                                        "test_accuracy_is_the_fraction_of_correct_argmax_predictions"),
    "accuracy_ignores_its_model": Mutant(MLP, "        pred = model(X)\n", "        pred = X\n",
                                         "test_accuracy_is_the_fraction_of_correct_argmax_predictions"),
    "accuracy_counts_instead_of_averaging": Mutant(
        MLP, "return (torch.argmax(pred, dim=1) == y).float().mean().item()",
        "return (torch.argmax(pred, dim=1) == y).float().sum().item()",
        "test_accuracy_is_the_fraction_of_correct_argmax_predictions"),
    # saving and loading
    "save_parameters_saves_the_whole_model": Mutant(MLP, "torch.save(model.state_dict(), path)", "torch.save(model, path)",
                                                    "test_save_parameters_writes_a_state_dict_that_loads_weights_only"),
    "load_parameters_returns_an_untrained_model": Mutant(
        MLP, "    model.load_state_dict(torch.load(path, weights_only=True))\n", "",
        "test_load_parameters_reads_parameters_saved_by_the_grader"),
    "load_model_builds_a_new_model": Mutant(MLP, "return torch.load(path, weights_only=False)", "return Model(4, 16, 3)",
                                            "test_save_model_then_load_model_predicts_the_same"),
    # sigmoid
    "sigmoid_of_minus_z": Mutant(ACTIVATIONS, "return torch.where(positive, 1 / (1 + e), e / (1 + e))",
                                 "return torch.where(positive, e / (1 + e), 1 / (1 + e))",
                                 "test_elementwise_activation_equals_its_formula[sigmoid]"),
    "sigmoid_that_overflows": Mutant(ACTIVATIONS, "return torch.where(positive, 1 / (1 + e), e / (1 + e))",
                                     "return 1 / (1 + torch.exp(-z))",
                                     "test_activation_is_right_and_finite_for_large_inputs[float32-sigmoid]"),
    "sigmoid_through_abs_whose_gradient_at_0_is_0": Mutant(
        ACTIVATIONS, "e = torch.exp(torch.where(positive, -z, z))", "e = torch.exp(-z.abs())",
        "test_activation_gradient_equals_pytorchs[sigmoid]"),
    "sigmoid_calls_the_builtin": Mutant(ACTIVATIONS, "return torch.where(positive, 1 / (1 + e), e / (1 + e))",
                                        "return torch.sigmoid(z)", "test_activation_is_written_from_scratch[sigmoid]"),
    # tanh
    "tanh_by_the_wrong_identity": Mutant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1", "return 2 * sigmoid(z) - 1",
                                         "test_tanh_is_two_sigmoid_of_2z_minus_one"),
    "tanh_with_the_wrong_sign": Mutant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1", "return 1 - 2 * sigmoid(2 * z)",
                                       "test_elementwise_activation_equals_its_formula[tanh]"),
    "tanh_whose_gradient_at_0_is_wrong": Mutant(
        ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1",
        "return z.sign() * (1 - torch.exp(-2 * z.abs())) / (1 + torch.exp(-2 * z.abs()))",
        "test_activation_gradient_equals_pytorchs[tanh]"),
    "tanh_compiled_with_torch_jit_script": Mutant(
        ACTIVATIONS, "def tanh(z: torch.Tensor) -> torch.Tensor:", "@torch.jit.script\ndef tanh(z: torch.Tensor) -> torch.Tensor:",
        "test_activation_is_written_from_scratch[tanh]"),
    "tanh_with_a_typo": Mutant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1", "return 2 * sigmod(2 * z) - 1",
                               "test_activation_is_written_from_scratch[tanh]"),
    "tanh_calls_the_builtin": Mutant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1", "return torch.nn.Tanh()(z)",
                                     "test_activation_is_written_from_scratch[tanh]"),
    # softmax
    "softmax_without_the_max_shift": Mutant(ACTIVATIONS, "shifted = z - z.amax(dim=dim, keepdim=True).detach()",
                                            "shifted = z", "test_activation_is_right_and_finite_for_large_inputs[float32-softmax]"),
    "softmax_with_a_global_sum": Mutant(ACTIVATIONS, "return e / e.sum(dim=dim, keepdim=True)", "return e / e.sum()",
                                        "test_softmax_slices_sum_to_one"),
    "softmax_over_the_last_dimension_always": Mutant(
        ACTIVATIONS, "shifted = z - z.amax(dim=dim, keepdim=True).detach()\n    e = torch.exp(shifted)\n    return e / e.sum(dim=dim, keepdim=True)",
        "shifted = z - z.amax(dim=-1, keepdim=True).detach()\n    e = torch.exp(shifted)\n    return e / e.sum(dim=-1, keepdim=True)",
        "test_softmax_equals_torch_softmax"),
    "softmax_without_keepdim": Mutant(ACTIVATIONS, "return e / e.sum(dim=dim, keepdim=True)", "return e / e.sum(dim=dim)",
                                      "test_softmax_slices_sum_to_one"),
    "softmax_calls_the_builtin": Mutant(ACTIVATIONS, "return e / e.sum(dim=dim, keepdim=True)",
                                        "return torch.nn.functional.softmax(z, dim)",
                                        "test_activation_is_written_from_scratch[softmax]"),
    # relu
    "relu_that_leaks": Mutant(ACTIVATIONS, "return torch.where(z > 0, z, torch.zeros_like(z))",
                              "return torch.where(z > 0, z, 0.01 * z)", "test_elementwise_activation_equals_its_formula[relu]"),
    "relu_through_numpy": Mutant(ACTIVATIONS, "return torch.where(z > 0, z, torch.zeros_like(z))",
                                 "import numpy\n    return torch.from_numpy(numpy.maximum(z.detach().numpy(), 0))",
                                 "test_relu_gradient_is_one_for_positive_and_zero_for_negative_inputs"),
}


def rewritten_submission(notebook_name: str, old: str, new: str, directory: Path) -> Path:
    """The reference notebooks copied to ``directory``, with ``old`` (which must occur exactly once
    in the code cells of ``notebook_name``) replaced by ``new``."""
    shutil.copytree(REFERENCE_DIR, directory)
    path = directory / notebook_name
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert sum(cell.source.count(old) for cell in code) == 1, f"{old!r} must occur once"
    for cell in code:
        cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, path)
    return directory


def mutant_submission(mutant: Mutant, directory: Path) -> Path:
    """The reference notebooks with the mutant's change written in."""
    return rewritten_submission(mutant.notebook, mutant.old, mutant.new, directory)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_changes_exactly_one_place(name, tmp_path):
    """Each mutant's text occurs once in the reference's code cells, so it mutates what it says."""
    mutant_submission(MUTANTS[name], tmp_path / "submission")


@pytest.fixture(scope="module")
def mutant_results(tmp_path_factory) -> dict[str, dict]:
    """Every mutant graded with the reference present, with grade-all: one class per notebook, on its parts."""
    return grade_by_notebook(tmp_path_factory.mktemp("mutants"), {name: m.notebook for name, m in MUTANTS.items()},
                             lambda name, folder: mutant_submission(MUTANTS[name], folder))


def test_there_are_at_least_thirty_mutants():
    """The suite covers every graded name with at least thirty known-wrong implementations."""
    assert len(MUTANTS) >= 30


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_points(name, mutant_results):
    """The mutant does not reach full marks."""
    results = mutant_results[name]
    assert results["score"] < results["max_score"], name


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught_by_its_check(name, mutant_results):
    """The check meant to catch the mutant fails on it."""
    catcher = MUTANTS[name].caught_by
    by_test = {t["test"]: t for t in mutant_results[name]["tests"]}
    assert catcher in by_test, sorted(by_test)
    assert by_test[catcher]["score"] < by_test[catcher]["max_score"], by_test[catcher]


def check_output(results: dict, test: str, checks: str) -> str:
    """The message of the check ``test`` of the graded name ``checks`` in one submission's results."""
    [output] = [t["output"] for t in results["tests"]
                if t["test"].split("[")[0] == test and t["extra_data"]["checks"] == checks]
    return output


@pytest.mark.parametrize(("name", "activation"), [("tanh_by_the_wrong_identity", "tanh"),
                                                  ("sigmoid_of_minus_z", "sigmoid")])
def test_a_wrong_activation_written_from_scratch_is_not_called_a_builtin(name, activation, mutant_results):
    """A wrong activation that calls no built-in fails its from-scratch check on its values, not as PyTorch's own."""
    output = check_output(mutant_results[name], "test_activation_is_written_from_scratch", activation)
    assert output and "PyTorch's own" not in output and "built" not in output, output


def test_a_builtin_activation_is_named_in_its_from_scratch_check(mutant_results):
    """An activation that calls PyTorch's own fails its from-scratch check naming the call, its line and the list."""
    output = check_output(mutant_results["tanh_calls_the_builtin"], "test_activation_is_written_from_scratch", "tanh")
    assert output.startswith("tanh uses `torch.nn.Tanh` on line") and "not on the list" in output, output


def test_an_sgd_step_that_replaces_storage_is_told_so(mutant_results):
    """``p.data = p.data - ...`` loses its in-place point with a message about new memory, not about rebinding."""
    output = check_output(mutant_results["sgd_rebinds_instead_of_updating_in_place"], "test_sgd_step_updates_in_place",
                          "sgd_step")
    assert "new memory" in output and "rebinding" not in output, output


def test_a_check_broken_by_another_graded_function_names_it_first(mutant_results):
    """Where a wrong Model breaks load_parameters' check, that check's message starts by naming Model."""
    output = check_output(mutant_results["model_without_softmax"],
                          "test_load_parameters_reads_parameters_saved_by_the_grader", "load_parameters")
    assert output.startswith("This check uses your Model, whose own checks fail: fix Model first."), output


def test_a_decorator_the_list_refuses_costs_only_its_function(mutant_results):
    """`@torch.jit.script` on tanh costs tanh's points, saying what and where; sigmoid, softmax and relu keep theirs."""
    tests = mutant_results["tanh_compiled_with_torch_jit_script"]["tests"]
    lost = {t["extra_data"]["checks"] for t in tests if t["score"] < t["max_score"]}
    output = check_output(mutant_results["tanh_compiled_with_torch_jit_script"], "test_activation_is_written_from_scratch",
                          "tanh")
    assert lost == {"tanh"} and output.startswith("tanh uses `torch.jit.script` on line 1"), (lost, output)


@pytest.mark.parametrize(("name", "checked", "used"), [
    ("sgd_climbs_the_gradient", "train_linear_regression", "sgd_step"),
    ("loss_sums", "train_linear_regression", "loss_fn"),
    ("sigmoid_of_minus_z", "tanh", "sigmoid"),
])
def test_a_check_broken_by_a_function_its_code_calls_names_that_function_first(name, checked, used, mutant_results):
    """A right function that calls a wrong one (the training loop its sgd_step or loss_fn, tanh its sigmoid) fails
    saying first to fix the one it calls: read from its code, and from that function's own checks."""
    outputs = [t["output"] for t in mutant_results[name]["tests"]
               if t["extra_data"]["checks"] == checked and t["score"] < t["max_score"]]
    assert outputs and all(o.startswith(f"This check uses your {used}, whose own checks fail: fix {used} first.")
                           for o in outputs), outputs[:2]


@pytest.mark.parametrize(("name", "checked", "said"), [
    ("tanh_with_a_typo", "tanh", "tanh uses `sigmod` on line 11"),
    ("loss_with_a_typo", "loss_fn", 'Your code raised NameError: "name \'targt\' is not defined"'),
])
def test_a_name_nothing_defines_is_one_name_error_with_the_closest_name(name, checked, said, mutant_results):
    """A typo is said as Python's NameError, with the name meant, once for the function, and with no example input."""
    outputs = {t["output"] for t in mutant_results[name]["tests"] if t["extra_data"]["checks"] == checked}
    [output] = outputs
    meant = "sigmoid" if checked == "tanh" else "target"
    assert said in output and f"Did you mean `{meant}`?" in output and "example" not in output, output


def softmax_without_keepdim(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The mutant's softmax, here: the max shift, then a sum that drops the dimension it sums over."""
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim)


def test_every_example_shown_fails_when_tried_by_hand(mutant_results):
    """Each example a failed softmax check shows is an input on which the mutant's softmax is wrong: pasted as shown
    (exact values), it raises or differs from PyTorch's."""
    examples = [output.split("The smallest example found:\n", 1)[1].split("\n\n")[0]
                for output in (t["output"] for t in mutant_results["softmax_without_keepdim"]["tests"])
                if "The smallest example found:" in output]
    assert examples
    for example in examples:
        arguments = dict(line.strip().split(" = ", 1) for line in example.splitlines() if " = " in line)
        z, dim = eval(arguments["z_dim"], {"torch": torch}) if "z_dim" in arguments else (
            eval(arguments["z"], {"torch": torch}), -1)
        try:
            out = softmax_without_keepdim(z, dim)
        except RuntimeError:
            continue
        assert out.shape != z.shape or not torch.allclose(out, torch.softmax(z, dim)), example
