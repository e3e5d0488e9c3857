"""Correct implementations written differently from the reference: each must get full marks.

The mirror image of ``tests/test_mutants.py``: a variant is the reference notebooks with one
graded function written another correct way (another idiom, another order, code as the
lecture or public teaching material writes it). The variants are graded as an instructor
grades a class (``grade-all``, the reference present), one class per notebook on the parts of
the notebook they change, and no check may cost one a point.
"""

from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.contract import ASSIGNMENT_ID
from tests.conftest import grade_by_notebook
from tests.test_mutants import ACTIVATIONS, LINEAR, MLP, rewritten_submission

pytestmark = pytest.mark.slow

REFERENCE_SGD_STEP = """    with torch.no_grad():
        for p in params:
            p -= learning_rate * p.grad
            p.grad.zero_()"""
REFERENCE_TRAIN_LOOP = """            loss = loss_fn(model(x_batch)[:, 0], y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()"""
REFERENCE_MLP_LOOP = """    loss_hist, accuracy_hist = [], []
    num_examples = len(train_dl.dataset)
    for _ in range(num_epochs):
        total_loss, total_correct = 0.0, 0.0
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            total_loss += loss.item() * y_batch.size(0)
            total_correct += (torch.argmax(pred, dim=1) == y_batch).sum().item()
        loss_hist.append(total_loss / num_examples)
        accuracy_hist.append(total_correct / num_examples)
    return loss_hist, accuracy_hist"""
REFERENCE_SIGMOID = """    positive = z >= 0
    # Exponentiate -|z| in both branches, so that neither overflows for any z.
    e = torch.exp(torch.where(positive, -z, z))
    return torch.where(positive, 1 / (1 + e), e / (1 + e))"""
REFERENCE_SOFTMAX = """    shifted = z - z.amax(dim=dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)"""
REFERENCE_RELU = "    return torch.where(z > 0, z, torch.zeros_like(z))"


@dataclass(frozen=True)
class Variant:
    """In ``notebook``, ``old`` (which occurs exactly once) becomes ``new``, another correct implementation;
    ``imports`` go at the top of the notebook's first code cell."""

    notebook: str
    old: str
    new: str
    imports: str = ""


def variant_submission(variant: Variant, directory: Path) -> Path:
    """The reference notebooks with the variant written in."""
    rewritten_submission(variant.notebook, variant.old, variant.new, directory)
    if variant.imports:
        path = directory / variant.notebook
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        first.source = f"{variant.imports}\n{first.source}"
        nbformat.write(notebook, path)
    return directory


VARIANTS = {
    # sgd_step: None instead of zeros, as optimizer.zero_grad() does since PyTorch 2.0
    "sgd_step_sets_gradients_to_none": Variant(LINEAR, "            p.grad.zero_()\n",
                                                       "            p.grad = None\n"),
    # sgd_step: the lecture's order, every update first and then every reset
    "sgd_step_updates_all_then_resets_all": Variant(LINEAR, REFERENCE_SGD_STEP, """    with torch.no_grad():
        for p in params:
            p -= p.grad * learning_rate
        for p in params:
            p.grad.zero_()"""),
    # sgd_step: through .data, without no_grad, as older tutorials write it
    "sgd_step_through_data": Variant(LINEAR, REFERENCE_SGD_STEP, """    for p in params:
        p.data.sub_(learning_rate * p.grad.data)
        p.grad.data.zero_()"""),
    # sgd_step: add_ with alpha, and a reset to None
    "sgd_step_add_with_alpha": Variant(LINEAR, REFERENCE_SGD_STEP, """    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-learning_rate)
            p.grad = None"""),
    # train_nn_regression: zero_grad first, then the step; the target as a column instead of the prediction's column
    "nn_training_zeroes_first_and_compares_columns": Variant(LINEAR, REFERENCE_TRAIN_LOOP, """            optimizer.zero_grad()
            loss = loss_fn(model(x_batch), y_batch.unsqueeze(1))
            loss.backward()
            optimizer.step()"""),
    # Model: activations as modules built in __init__, softmax along dim=-1
    "model_with_activation_modules": Variant(MLP, """        x = torch.sigmoid(self.layer1(x))
        return torch.softmax(self.layer2(x), dim=1)""", """        return nn.Softmax(dim=-1)(self.layer2(nn.Sigmoid()(self.layer1(x))))"""),
    # train_mlp: the lecture's loop, with one-element tensors summed into preallocated histories
    "mlp_training_as_in_the_lecture": Variant(MLP, REFERENCE_MLP_LOOP, """    loss_hist = [0] * num_epochs
    accuracy_hist = [0] * num_epochs
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_hist[epoch] += loss.item() * y_batch.size(0)
            is_correct = (torch.argmax(pred, dim=1) == y_batch).float()
            accuracy_hist[epoch] += is_correct.sum()
        loss_hist[epoch] /= len(train_dl.dataset)
        accuracy_hist[epoch] /= len(train_dl.dataset)
    return loss_hist, accuracy_hist"""),
    # accuracy: a count divided by the number of labels
    "accuracy_as_a_count_over_the_length": Variant(
        MLP, "return (torch.argmax(pred, dim=1) == y).float().mean().item()",
        "return (pred.argmax(1) == y).sum().item() / len(y)"),
    # load_parameters: torch.load's default, which is weights_only=True since PyTorch 2.6
    "load_parameters_with_the_default_weights_only": Variant(
        MLP, "model.load_state_dict(torch.load(path, weights_only=True))",
        "model.load_state_dict(torch.load(path))\n    model.eval()"),
    # sigmoid: 1 / (1 + exp(-z)) guarded by a clamp, past which float32's exp overflows
    "sigmoid_with_a_clamped_exponent": Variant(ACTIVATIONS, REFERENCE_SIGMOID, """    return 1 / (1 + torch.exp(-z.clamp(-80, 80)))"""),
    # tanh: from its own formula, stable on both sides
    "tanh_from_its_formula": Variant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1", """e = torch.exp(torch.where(z >= 0, -2 * z, 2 * z))
    return torch.where(z >= 0, (1 - e) / (1 + e), (e - 1) / (1 + e))"""),
    # softmax: the max with its gradient kept, through .values
    "softmax_with_max_values": Variant(ACTIVATIONS, REFERENCE_SOFTMAX, """    e = (z - torch.max(z, dim=dim, keepdim=True).values).exp()
    return e / torch.sum(e, dim=dim, keepdim=True)"""),
    # softmax: through logsumexp
    "softmax_through_logsumexp": Variant(ACTIVATIONS, REFERENCE_SOFTMAX,
                                         "    return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))"),
    # relu: clamp, the common one-liner
    "relu_by_clamp": Variant(ACTIVATIONS, REFERENCE_RELU, "    return z.clamp(min=0)"),
    # relu: multiplication by a mask
    "relu_by_a_mask": Variant(ACTIVATIONS, REFERENCE_RELU, "    return z * (z > 0)"),
    # relu: maximum with zeros
    "relu_by_maximum": Variant(ACTIVATIONS, REFERENCE_RELU, "    return torch.maximum(z, torch.zeros_like(z))"),
    # Written from scratch the ways students write them (issue 17): each must pass the from-scratch check too.
    # sigmoid: through math.e, its exponent clamped where float32 would overflow
    "sigmoid_through_math_e": Variant(ACTIVATIONS, REFERENCE_SIGMOID,
                                      "    return 1 / (1 + math.e ** -z.clamp(-80, 80))", imports="import math"),
    # sigmoid: a helper of the student's own, with a docstring and an isinstance guard
    "sigmoid_with_a_helper_and_a_guard": Variant(ACTIVATIONS, REFERENCE_SIGMOID, """    if not isinstance(z, torch.Tensor):
        raise TypeError("sigmoid takes a tensor")
    return _stable_logistic(z)


def _stable_logistic(z: torch.Tensor) -> torch.Tensor:
    \"\"\"exp of a non-positive number in both branches, so nothing overflows.\"\"\"
    e = torch.exp(torch.where(z >= 0, -z, z))
    return torch.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))"""),
    # sigmoid: through logaddexp, log(1 + exp(-z)) computed stably
    "sigmoid_through_logaddexp": Variant(ACTIVATIONS, REFERENCE_SIGMOID,
                                         "    return torch.exp(-torch.logaddexp(torch.zeros_like(z), -z))"),
    # tanh: from the student's own sigmoid, written out with a local name
    "tanh_through_a_sigmoid_of_its_own": Variant(ACTIVATIONS, "return 2 * sigmoid(2 * z) - 1",
                                                 "twice = sigmoid(z * 2.0)\n    return twice * 2.0 - 1.0"),
    # softmax: the max shift through torch.amax, then a division
    "softmax_shifted_by_torch_amax": Variant(ACTIVATIONS, REFERENCE_SOFTMAX, """    exps = torch.exp(z - torch.amax(z, dim=dim, keepdim=True))
    return exps / torch.sum(exps, dim=dim, keepdim=True)"""),
    # softmax: the max taken from max's (values, indices) by position
    "softmax_with_max_by_position": Variant(ACTIVATIONS, REFERENCE_SOFTMAX, """    m = z.max(dim, keepdim=True)[0]
    e = (z - m).exp()
    return e / e.sum(dim, keepdim=True)"""),
    # relu: an autograd Function of the student's own, with its own backward
    "relu_as_an_autograd_function": Variant(ACTIVATIONS, REFERENCE_RELU, """    return _ReLU.apply(z)


class _ReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        return grad_output * (z > 0).to(grad_output.dtype)"""),
    # relu: (z + |z|) / 2
    "relu_as_half_of_z_plus_its_absolute_value": Variant(ACTIVATIONS, REFERENCE_RELU, "    return (z + z.abs()) / 2"),
    # relu: where with a scalar zero
    "relu_by_where_with_a_scalar": Variant(ACTIVATIONS, REFERENCE_RELU, "    return torch.where(z > 0, z, 0.0)"),
    # relu: a loop over the elements of a copy
    "relu_by_a_loop_over_elements": Variant(ACTIVATIONS, REFERENCE_RELU, """    out = z.clone()
    flat = out.view(-1)
    for i in range(flat.numel()):
        if flat[i] < 0:
            flat[i] = 0.0
    return out"""),
    # relu: clamp_min as a function of torch
    "relu_by_clamp_min": Variant(ACTIVATIONS, REFERENCE_RELU, "    return torch.clamp_min(z, 0)"),
    # save_model and load_model: the file opened by the student, and the model put in eval mode
    "save_model_through_an_open_file": Variant(MLP, """    torch.save(model, path)
    ### END SOLUTION


def load_model""", """    with open(path, "wb") as file:
        torch.save(model, file)
    ### END SOLUTION


def load_model"""),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_changes_exactly_one_place(name, tmp_path):
    """Each variant's text occurs once in the reference's code cells, so it rewrites what it says."""
    variant = VARIANTS[name]
    variant_submission(variant, tmp_path / "submission")


@pytest.fixture(scope="module")
def variant_results(tmp_path_factory) -> dict[str, dict]:
    """Every variant graded with the reference present, with grade-all: one class per notebook, on its parts."""
    return grade_by_notebook(tmp_path_factory.mktemp("variants"), {name: v.notebook for name, v in VARIANTS.items()},
                             lambda name, folder: variant_submission(VARIANTS[name], folder))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_gets_full_marks(name, variant_results):
    """The variant loses no point in any check."""
    results = variant_results[name]
    lost = [(t["test"], t["output"][:300]) for t in results["tests"] if t["score"] != t["max_score"]]
    assert not lost and results["max_score"] > 0, lost
