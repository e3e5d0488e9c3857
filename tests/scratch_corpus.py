"""Correct from-scratch activations as people write them in public code, adapted to the assignment's signatures.

Each entry's origin is given; only names and signatures were adapted (and what is said in its note). Used by
tests that check the judge refuses none of them and that each keeps full marks.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Written:
    """One activation as someone wrote it: the graded name, the code (top-level definitions only), and where from."""
    activation: str  # "sigmoid", "tanh", "softmax" or "relu"
    source: str      # top-level imports/defs/classes/constants; defines the graded name with the assignment's signature
    origin: str      # repository and path, or page address, where it was found; and what was adapted


CORPUS: dict[str, Written] = {
    # ------------------------------------------------------------------------------------------------ sigmoid
    "sigmoid_dlordinal_boolean_mask_indexing": Written("sigmoid", '''
import torch


def sigmoid(z):
    """
    Stable sigmoid function that avoids overflow issues for large values of t.
    This function is used to compute the sigmoid of a tensor t, handling both positive
    and negative values in a numerically stable way.
    """
    idx = z > 0
    out = torch.zeros_like(z)
    out[idx] = 1.0 / (1 + torch.exp(-z[idx]))
    exp_t = torch.exp(z[~idx])
    out[~idx] = exp_t / (1.0 + exp_t)
    return out
''', "github.com/ayrna/dlordinal dlordinal/output_layers/utils.py (commit ce16fd2): stable_sigmoid(t) renamed "
        "sigmoid(z)"),

    "sigmoid_cs231n_pos_neg_masks_stackoverflow": Written("sigmoid", '''
import torch


def sigmoid(z):
    """
    A numerically stable version of the logistic sigmoid function.
    """
    pos_mask = (z >= 0)
    neg_mask = (z < 0)
    e = torch.zeros_like(z)
    e[pos_mask] = torch.exp(-z[pos_mask])
    e[neg_mask] = torch.exp(z[neg_mask])
    top = torch.ones_like(z)
    top[neg_mask] = e[neg_mask]
    return top / (1 + e)
''', "https://stackoverflow.com/questions/51976461/optimal-way-of-defining-a-numerically-stable-sigmoid-function-"
        "for-a-list-in-pyth (answer quoting CS231n assignment 3's rnn_layers.py): parameter x -> z, its local z -> e, "
        "np.zeros_like/np.exp/np.ones_like -> torch."),

    "sigmoid_cuda_sigmoid_autograd_function_masks": Written("sigmoid", '''
import torch


class Sigmoid(torch.autograd.Function):
    """The Sigmoid activation function."""

    @staticmethod
    def forward(ctx, data: torch.Tensor) -> torch.Tensor:
        """Performs a forward pass."""

        neg_mask = data < 0
        pos_mask = ~neg_mask

        zs = torch.empty_like(data)
        zs[neg_mask] = data[neg_mask].exp()
        zs[pos_mask] = (-data[pos_mask]).exp()

        res = torch.ones_like(data)
        res[neg_mask] = zs[neg_mask]

        result = res / (1 + zs)

        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        """Performs a backpropagation."""

        (result,) = ctx.saved_tensors
        grad = result * (1 - result)
        return grad_output * grad


def sigmoid(z):
    return Sigmoid.apply(z)
''', "github.com/gfickel/cuda-sigmoid sigmoid.py: the class verbatim; the file's `sigmoid = Sigmoid.apply` "
        "(in its __main__) written as def sigmoid(z)"),

    "sigmoid_pytorch_book_autograd_function": Written("sigmoid", '''
import torch


class SigmoidFunctionBook(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        output = 1 / (1 + torch.exp(-x))
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        output,  = ctx.saved_tensors
        grad_x = output * (1 - output) * grad_output
        return grad_x


def sigmoid(z):
    return SigmoidFunctionBook.apply(z)
''', "github.com/chenyuntc/pytorch-book chapter03-tensor_and_autograd/Autograd.ipynb (commit 1dfd26a): class "
        "Sigmoid(Function) renamed SigmoidFunctionBook, `Function` (from torch.autograd import Function) -> "
        "torch.autograd.Function, `t.exp` (import torch as t) -> torch.exp; the notebook's Sigmoid.apply written as "
        "def sigmoid(z)"),

    # ------------------------------------------------------------------------------------------------ tanh
    "tanh_two_sigmoid_of_two_z_m_l": Written("tanh", '''
def tanh(z):
    return 2 * sigmoid(2*z) - 1
''', "github.com/fkropfhamer/m_l neural_network/activation.py: x -> z; relies on the submission's own sigmoid "
        "(the file's is NumPy's naive 1 / (1 + np.exp(-x)), not carried over)"),

    "tanh_sympc_sigmoid_approximation_helper": Written("tanh", '''
TANH_METHOD_SYMPC = "sigmoid"


def _tanh_sigmoid(tensor):
    """Compute the tanh using the sigmoid approximation.

    Args:
        tensor (tensor): values where tanh should be approximated

    Returns:
        tensor (tensor): tanh calculated using sigmoid
    """
    return 2 * sigmoid(2 * tensor) - 1


def tanh(z):
    """Calculates tanh of given tensor.

    Args:
        tensor: whose sigmoid has to be calculated
        method: method to use while calculating sigmoid

    Returns:
        MPCTensor: calculated MPCTensor

    Raises:
        ValueError: if the requested method does not exists.

    """
    if TANH_METHOD_SYMPC == "sigmoid":
        return _tanh_sigmoid(z)
    else:
        raise ValueError(f"Invalid method {TANH_METHOD_SYMPC} given for tanh function")
''', "github.com/OpenMined/SyMPC src/sympc/approximations/tanh.py (commit 14b269a): tanh(tensor, method='sigmoid') "
        "-> tanh(z), its method parameter kept as the constant TANH_METHOD_SYMPC; relies on the submission's own "
        "sigmoid (SyMPC imports its MPC approximation)"),


    "tanh_tinygrad_two_sigmoid_method": Written("tanh", '''
def tanh(z): return 2.0 * sigmoid(2.0 * z) - 1.0
''', "github.com/tinygrad/tinygrad tinygrad/tensor.py, Tensor.tanh (`def tanh(self): return 2.0 * ((2.0 * "
        "self).sigmoid()) - 1.0`): self -> z and the method call .sigmoid() -> the submission's own sigmoid function, "
        "which the entry relies on"),

    "tanh_crypten_reciprocal_method_chain": Written("tanh", '''
def tanh(z):
    return sigmoid(z.mul(2)).mul(2).sub(1)
''', "github.com/facebookresearch/CrypTen crypten/common/functions/approximations.py, tanh: the branch of its "
        "default method \"reciprocal\" (`return self.mul(2).sigmoid().mul(2).sub(1)`), self -> z and .sigmoid() -> "
        "the submission's own sigmoid, which the entry relies on; the Chebyshev branch (CrypTen's MPC code) left out"),

    # ------------------------------------------------------------------------------------------------ softmax
    "softmax_cs336_max_indexing_zero": Written("softmax", '''
import torch


def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    z = z - torch.max(z, dim=dim, keepdim=True)[0]
    z = torch.exp(z)
    z = z / torch.sum(z, dim=dim, keepdim=True)
    return z
''', "github.com/SaudxInu/language-modeling-from-scratch assignment1-basics/cs336_basics/nn/modules/softmax.py: "
        "x -> z; the unused `import torch.nn as nn` dropped"),

    "softmax_cs336_max_values": Written("softmax", '''
import torch
from torch import Tensor


def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    x_max = torch.max(z, dim=dim, keepdim=True).values
    x_shifted = z - x_max
    exp_x = torch.exp(x_shifted)
    sum_exp = torch.sum(exp_x, dim=dim, keepdim=True)
    return exp_x / sum_exp
''', "github.com/shawnspitzel/cs336 assignment1-basics/cs336_basics/model/softmax.py: x -> z, default dim=-1 "
        "added; the unused imports of torch.nn and jaxtyping dropped"),

    "softmax_torchcode_method_max_values": Written("softmax", '''
import torch


def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    x_max = z.max(dim=dim, keepdim=True).values
    e_x = torch.exp(z - x_max)
    return e_x / e_x.sum(dim=dim, keepdim=True)
''', "github.com/duoan/TorchCode solutions/02_softmax_solution.ipynb: my_softmax(x, dim=-1) renamed "
        "softmax(z, dim=-1)"),

    "softmax_aio_nn_module_softmax_stable": Written("softmax", '''
import torch
import torch.nn as nn


class SoftMaxStable(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, dim):
        x_max = torch.max(x, dim=dim, keepdims=True)
        x_exp = torch.exp(x - x_max.values)
        partition = x_exp.sum(dim, keepdims=True)

        return x_exp / partition


def softmax(z, dim=-1):
    return SoftMaxStable()(z, dim)
''', "github.com/stephanelx88/AIO314-Exercise module1/week3/sec01_softmax_stable.py: a dim parameter added to "
        "forward where it hard-codes dim 0; the file's `SoftMaxStable()(data)` written as def softmax(z, dim=-1)"),

    "softmax_karpathy_makemore_backprop_ninja": Written("softmax", '''
def softmax(z, dim=-1):
    logit_maxes = z.max(dim, keepdim=True).values
    norm_logits = z - logit_maxes # subtract max for numerical stability
    counts = norm_logits.exp()
    counts_sum = counts.sum(dim, keepdims=True)
    counts_sum_inv = counts_sum**-1 # if I use (1.0 / counts_sum) instead then I can't get backprop to be bit exact...
    probs = counts * counts_sum_inv
    return probs
''', "github.com/karpathy/nn-zero-to-hero lectures/makemore/makemore_part4_backprop.ipynb (the forward pass's "
        "softmax lines): logits -> z, dim 1 -> dim, wrapped in def softmax(z, dim=-1) returning probs"),

    "softmax_manual_mnist_max_index_exp_method": Written("softmax", '''
import torch


def softmax(z, dim=-1):
    # Apply softmax to the predictions
    norm_logits = (
        z - torch.max(z, dim=dim, keepdim=True)[0]
    )  # subtract max for numerical stability
    soft_preds = norm_logits.exp() / norm_logits.exp().sum(
        dim, keepdim=True
    )  # softmax formula

    return soft_preds
''', "github.com/20timo05/manual-neural-network-mnist activation_functions.py: softmax(logits) -> softmax(z, dim=-1), "
        "dim 1 -> dim"),

    "softmax_logsumexp_method_style": Written("softmax", '''
def softmax(z, dim=-1):
    normalized_logits = z - z.logsumexp(dim=dim, keepdim=True)
    softmax = normalized_logits.exp() # exp(logits)/sum(exp(logits))
    return softmax
''', "https://mwolf.dev/general/log-sum-exp-trick: its two lines wrapped in def softmax(z, dim=-1) (logits -> z, "
        "dim=1 -> dim)"),

    "softmax_pytorch_decomposition_amax": Written("softmax", '''
import torch
from torch import Tensor


def softmax(z: Tensor, dim: int = -1):
    x_max = torch.amax(z, dim, keepdim=True)
    unnormalized = torch.exp(z - x_max)
    return unnormalized / torch.sum(unnormalized, dim, keepdim=True)
''', "github.com/pytorch/pytorch torch/_decomp/decompositions.py, _softmax (2022 version): renamed softmax, x -> z, "
        "the half_to_float parameter and the @register_decomposition/@pw_cast_for_opmath decorators dropped, default "
        "dim=-1 added"),


    "softmax_nn_module_max_values_keepdim": Written("softmax", '''
import torch
import torch.nn as nn


class SoftmaxStable(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, dim):
        x_max = torch.max(x, dim=dim, keepdim=True).values
        x_exp = torch.exp(x - x_max)
        partition = x_exp.sum(dim, keepdim=True)
        return x_exp / partition


def softmax(z, dim=-1):
    return SoftmaxStable()(z, dim)
''', "github.com/nhonhoccode/AIO-Exercise mod01_w03/ex01_softmax.py: a dim parameter added to forward where it "
        "hard-codes dim 0; the file's `SoftmaxStable()(data)` written as def softmax(z, dim=-1)"),

    "softmax_stable_softmax_kata_comments": Written("softmax", '''
import torch


def softmax(z, dim=-1):
    # x shape: (B, ..., C)
    # 1. Subtract the max for numerical stability
    x_minus_max = z - z.max(dim=dim, keepdim=True).values

    # 2. Exponentiate
    exp_x = torch.exp(x_minus_max)

    # 3. Normalize to get probabilities
    return exp_x / exp_x.sum(dim=dim, keepdim=True)
''', "https://mlkatas.com/kata/110 (starter code): stable_softmax(x) -> softmax(z, dim=-1), dim=-1 -> dim"),

    "softmax_pytorch_inductor_test_amax_sum": Written("softmax", '''
import torch


def softmax(z, dim=-1):
    x_max = torch.amax(z, dim, keepdim=True)
    unnormalized = torch.exp(z - x_max)
    result = unnormalized / torch.sum(unnormalized, dim, keepdim=True)
    return result
''', "github.com/pytorch/pytorch test/inductor/test_torchinductor.py, test_softmax_one_kernel_persist's fn(x): "
        "renamed softmax(z, dim=-1), its `dim = 1` line replaced by the parameter"),

    # ------------------------------------------------------------------------------------------------ relu
    "relu_pytorch_tutorial_myrelu_autograd_function": Written("relu", '''
import torch


class MyReLU(torch.autograd.Function):
    """
    We can implement our own custom autograd Functions by subclassing
    torch.autograd.Function and implementing the forward and backward passes
    which operate on Tensors.
    """

    @staticmethod
    def forward(ctx, input):
        """
        In the forward pass we receive a Tensor containing the input and return
        a Tensor containing the output. ctx is a context object that can be used
        to stash information for backward computation. You can cache arbitrary
        objects for use in the backward pass using the ctx.save_for_backward method.
        """
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        """
        In the backward pass we receive a Tensor containing the gradient of the loss
        with respect to the output, and we need to compute the gradient of the loss
        with respect to the input.
        """
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def relu(z):
    return MyReLU.apply(z)
''', "github.com/pytorch/tutorials beginner_source/examples_autograd/two_layer_net_custom_function.py: MyReLU "
        "verbatim; the file's `relu = MyReLU.apply` written as def relu(z)"),

    "relu_nn_module_wrapping_autograd_function": Written("relu", '''
import torch
import torch.nn as nn


class ReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return torch.clamp(input, min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class CustomReLU(nn.Module):

    def __init__(self):
        super().__init__()

    def forward(self, input):
        return ReLUFunction.apply(input)


def relu(z):
    return CustomReLU()(z)
''', "github.com/Landyaos/MachineLearningHomework Function/ReLUFunction.py and Model/CustomReLU.py: the two files "
        "joined (`Function` -> torch.autograd.Function), wrapped in def relu(z)"),

    "relu_d2l_torch_max_zeros_like": Written("relu", '''
import torch


def relu(z):
    a = torch.zeros_like(z)
    return torch.max(z, a)
''', "github.com/d2l-ai/d2l-en chapter_multilayer-perceptrons/mlp-implementation.md (PyTorch tab): X -> z"),

    "relu_dive_into_dl_torch_max_keywords": Written("relu", '''
import torch


def relu(z):
    return torch.max(input=z, other=torch.tensor(0.0))
''', "github.com/MYSKY-github/Dive-into-DL-PyTorch (a fork of ShusenTang/Dive-into-DL-PyTorch) "
        "docs/chapter03_DL-basics/3.9_mlp-scratch.md: X -> z"),

    "relu_torchcode_bool_mask_float": Written("relu", '''
import torch


def relu(z: torch.Tensor) -> torch.Tensor:
    return z * (z > 0).float()
''', "github.com/duoan/TorchCode solutions/01_relu_solution.ipynb: x -> z"),

    "relu_where_zero_scalar_tensor_typed": Written("relu", '''
import torch
from torch import Tensor


def relu(z: Tensor) -> Tensor:
    """inplace=False"""
    zero = torch.tensor(0., dtype=z.dtype, device=z.device)
    return torch.where(z > 0, z, zero)
''', "github.com/Jintao-Huang/torch_tf2_study dev/torch/nn/functional/relu.py: x -> z"),

    "relu_uvadlc_activation_module": Written("relu", '''
import torch
import torch.nn as nn


class ActivationFunction(nn.Module):

    def __init__(self):
        super().__init__()
        self.name = self.__class__.__name__
        self.config = {"name": self.name}


class ReLU(ActivationFunction):

    def forward(self, x):
        return x * (x > 0).float()


def relu(z):
    return ReLU()(z)
''', "github.com/phlippe/uvadlc_notebooks docs/tutorial_notebooks/tutorial3/Activation_Functions.ipynb: "
        "ActivationFunction and ReLU verbatim, wrapped in def relu(z)"),

    "relu_bool_times_input": Written("relu", '''
def relu(z):
    return (z > 0) * z
''', "github.com/EnterN1me/Calypso Network/activations.py: x -> z (a NumPy file; the body uses no NumPy)"),

    "relu_ml_from_scratch_where_class": Written("relu", '''
import torch


class ReLUFromScratch():
    def __init__(self): pass

    def function(self, x):
        return torch.where(x >= 0, x, 0)

    def gradient(self, x):
        return torch.where(x >= 0, 1, 0)


def relu(z):
    return ReLUFromScratch().function(z)
''', "github.com/eriklindernoren/ML-From-Scratch mlfromscratch/deep_learning/activation_functions.py: class ReLU "
        "renamed ReLUFromScratch, np.where -> torch.where; wrapped in def relu(z)"),

    "relu_torch_maximum_scalar_tensor": Written("relu", '''
import torch


def relu(z):
    return torch.maximum(z, torch.tensor(0.))
''', "https://mlkatas.com/kata/22 (its solution sketch, second form) wrapped in def relu(z)"),

    "relu_torch_maximum_zeros_of_shape": Written("relu", '''
import torch


def relu(z: torch.Tensor) -> torch.Tensor:
    return torch.maximum(z, torch.zeros(z.shape))
''', "github.com/keing1/transformers_102 src/activations.py: `t` (import torch as t) -> torch, x -> z"),

    "relu_masked_fill": Written("relu", '''
def relu(z):
    return z.masked_fill(z < 0, 0)
''', "github.com/dhchoi-hs/transformer_pytorch model/utils/activation_functions.py (commit 2229c34): x -> z"),

    "relu_fastbook_clamp_min": Written("relu", '''
def relu(z): return z.clamp_min(0.)
''', "github.com/fastai/fastbook 17_foundations.ipynb: x -> z"),

    "relu_autograd_function_clamp_min": Written("relu", '''
import torch


class MyReLUClampMin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        # Save the input tensor for the backward pass
        ctx.save_for_backward(input)
        # Apply the ReLU activation element-wise
        output = input.clamp_min(0)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        # Retrieve the saved input tensor
        input, = ctx.saved_tensors
        # Create a mask where input is positive
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def relu(z):
    return MyReLUClampMin.apply(z)
''', "https://adhdecode-articles-3.pages.dev/articles/pytorch/pytorch-autograd-custom-backward-pass/: class MyReLU "
        "renamed MyReLUClampMin; its `my_relu_fn = MyReLUClampMin.apply` written as def relu(z)"),

    "relu_udlbook_clip": Written("relu", '''
# Define the Rectified Linear Unit (ReLU) function
def relu(z):
  activation = z.clip(0.0)
  return activation
''', "github.com/udlbook/udlbook Notebooks/Chap07/7_3_Initialization.ipynb: ReLU(preactivation) -> relu(z) (a NumPy "
        "notebook; ndarray.clip and Tensor.clip are spelled alike)"),

    "relu_torch_clamp_min_keyword": Written("relu", '''
import torch


def relu(z):
    return torch.clamp(z, min=0)
''', "https://mlkatas.com/kata/22 (its solution sketch, first form) wrapped in def relu(z)"),
}
