"""The judge of Part 3 reads the program its worker runs, and allows only what its list names, however it is reached.

Each test writes a notebook's code cells, builds an activation's program as the grader does and judges it, in
milliseconds; the graded forgeries in tests/test_forgery.py check the same families end to end, in both settings.
"""

import nbformat
import pytest

from autograder.boundary.notebook import Cell, load_notebook
from autograder.boundary.program import program
from autograder.contract import REFERENCE_DIR, RELEASE_DIR
from autograder.suite import allowed
from autograder.suite.scratch import Verdict, judge
from autograder.suite.stubs import is_stub_in_source

IMPORTS = "import math\nimport torch\n"
ELEMENTARY_SIGMOID = "def sigmoid(z):\n    e = torch.exp(-z.abs())\n    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))\n"


def cells(*sources: str) -> list[Cell]:
    """Code cells of 03_activations.ipynb holding ``sources``, named as the grader names them."""
    return [Cell(f"03_activations.ipynb, code cell {i}", source) for i, source in enumerate(sources, start=1)]


def verdict(name: str, *sources: str) -> Verdict:
    """The judge's verdict on the activation ``name`` of a notebook whose code cells hold ``sources``."""
    return judge(cells(*sources), name)


def refused(name: str, *sources: str) -> list[str]:
    """What the judge refuses in ``name``'s program, as the student reads it."""
    return [refusal.message(name) for refusal in verdict(name, *sources).refusals]


# The notebook and the judge.

@pytest.mark.parametrize("folder", [REFERENCE_DIR, RELEASE_DIR], ids=["solutions", "assignments"])
def test_the_notebook_states_the_list_the_judge_applies(folder):
    """03_activations.ipynb holds, in a markdown cell of its own, exactly the list allowed.py applies."""
    notebook = nbformat.read(folder / "03_activations.ipynb", as_version=4)
    stated = [cell.source for cell in notebook.cells
              if cell.cell_type == "markdown" and cell.source.startswith(allowed.LIST_HEADING)]
    assert stated == [allowed.instructions()], "regenerate the cell from allowed.instructions()"


def test_the_reference_activations_are_allowed():
    """Every activation of the reference notebook is written from the list alone."""
    notebook = nbformat.read(REFERENCE_DIR / "03_activations.ipynb", as_version=4)
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    for name in ("sigmoid", "tanh", "softmax", "relu"):
        assert verdict(name, *sources) == Verdict(), name


# One program for judge and worker.

def test_the_program_holds_what_the_activation_uses_and_nothing_else():
    """tanh's program is its import, the sigmoid it calls and itself; a class that patches torch when loaded is not
    in it, so its worker never runs that class."""
    source = cells(IMPORTS, "class _Patch:\n    torch.exp = torch.sigmoid\n", ELEMENTARY_SIGMOID,
                   "def tanh(z):\n    return 2 * sigmoid(2 * z) - 1\n")
    loaded = load_notebook(program(source, "tanh"), "03_activations.ipynb", "judge_test_program")
    assert {"torch", "sigmoid", "tanh"} <= set(loaded.namespace) and "_Patch" not in loaded.namespace
    assert "math" not in loaded.namespace  # imported by the notebook, used by no activation


def test_every_binding_of_a_name_is_judged():
    """A first draft that calls PyTorch's own sigmoid is refused though a later definition replaces it (and that one
    may fail to run, leaving the first)."""
    messages = refused("sigmoid", IMPORTS, "def sigmoid(z):\n    return torch.sigmoid(z)\n",
                       "@(lambda function: 1 / 0)\n" + ELEMENTARY_SIGMOID)
    assert any("`torch.sigmoid` on line 2" in message for message in messages), messages


def test_annotations_are_judged_whatever_future_import_the_notebook_holds():
    """Each statement is compiled on its own, so a `from __future__ import annotations` postpones nothing: an
    annotation is code that runs, and is judged."""
    messages = refused("relu", "from __future__ import annotations\n" + IMPORTS,
                       "def relu(z: torch.nn.functional.relu(torch.ones(1))) -> torch.Tensor:\n    return z.clamp(min=0)\n")
    assert any("torch.nn.functional.relu" in message for message in messages), messages


def test_a_name_bound_by_a_walrus_in_a_default_is_in_the_program():
    """A name a definition binds as a side effect (a walrus in a default) brings that definition into the program."""
    messages = refused("relu", IMPORTS, "def helper(x=(shortcut := torch.relu)):\n    return x\n",
                       "def relu(z):\n    return shortcut(z)\n")
    assert any("torch.relu" in message for message in messages), messages


def test_a_decorator_the_list_refuses_costs_only_its_function():
    """`@torch.jit.script` on tanh refuses tanh, saying what and where; relu, which does not use tanh, is judged as
    written."""
    source = (IMPORTS, "@torch.jit.script\ndef tanh(z):\n    return 2 / (1 + torch.exp(-2 * z)) - 1\n",
              "def relu(z):\n    return z.clamp(min=0)\n")
    assert refused("tanh", *source)[0].startswith("tanh uses `torch.jit.script` on line 1 of 03_activations.ipynb")
    assert verdict("relu", *source) == Verdict()


# Names reached through values.

@pytest.mark.parametrize("body", [
    "g = (x for x in [z])\n    return g.gi_frame.f_globals['torch'].relu(z)",
    "try:\n        1 / 0\n    except ZeroDivisionError as e:\n        return e.with_traceback(None)",
    "return relu.__globals__['torch'].relu(z)",
    "return z.as_subclass(torch.Tensor).clamp(min=0)",
    "return z.grad_fn.next_functions",
    "return torch.finfo(z.dtype).bits",
    "return [z].copy()[0].relu()",
], ids=["frame", "exception", "dunder", "as_subclass", "grad_fn", "finfo", "list"])
def test_an_attribute_of_any_value_must_be_on_the_list(body):
    """An attribute chain that starts at a value, not an import, is judged against the list all the same."""
    assert refused("relu", IMPORTS, f"def relu(z):\n    {body}\n")


def test_a_method_of_ones_own_does_not_allow_that_name_on_other_values():
    """Defining a method called sigmoid allows `self.sigmoid`, not `z.sigmoid()`."""
    messages = refused("sigmoid", IMPORTS, "class Mine:\n    def sigmoid(self, z):\n        return z\n",
                       "def sigmoid(z):\n    return z.sigmoid()\n")
    assert any("`.sigmoid` is not on the list" in message for message in messages), messages


def test_a_module_held_as_a_value_is_refused():
    """`torch` passed as a value (a default, an alias) leads anywhere, and is refused."""
    assert refused("relu", IMPORTS, "def relu(z, t=torch):\n    return t.clamp(z, min=0)\n")


@pytest.mark.parametrize("statement", ["z.data = z.clamp(min=0)", "torch.exp = torch.abs", "z.grad = z", "z.g = z"])
def test_nothing_but_ones_own_objects_may_be_changed(statement):
    """Setting an attribute of a module or of any value is refused: only the student's own objects' may be set (a name
    set on a value could be any object's attribute, of a type nobody listed)."""
    assert refused("relu", IMPORTS, f"def relu(z):\n    {statement}\n    return z.clamp(min=0)\n")


def test_a_class_of_ones_own_may_set_and_use_its_attributes():
    """An nn.Module of one's own that sets and reads its attributes, called from the activation, is allowed."""
    source = ("class Rectifier(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.floor = 0.0\n\n    def forward(self, x):\n        return x.clamp(min=self.floor)\n\n\n"
              "def relu(z):\n    return Rectifier()(z)\n")
    assert verdict("relu", IMPORTS, source) == Verdict()


@pytest.mark.parametrize("source", [
    "class Ops:\n    def sigmoid(self):\n        return self.sigmoid()\n\n\ndef sigmoid(z):\n    return Ops.sigmoid(z)\n",
    "class Ops:\n    @staticmethod\n    def sigmoid(self):\n        return self.sigmoid()\n\n\n"
    "def sigmoid(z):\n    return Ops().sigmoid(z)\n",
    "class Ops:\n    sigmoid = None\n\n    def act(self, z):\n        self = z\n        return self.sigmoid()\n\n\n"
    "def sigmoid(z):\n    return Ops().act(z)\n",
    "@lambda cls: torch.Tensor\nclass Ops:\n    sigmoid = None\n\n\ndef sigmoid(z):\n    return Ops.sigmoid(z)\n",
    "class Ops:\n    def act(self, z):\n        sigmoid = 0\n        return self.sigmoid(z)\n\n\n"
    "def sigmoid(z):\n    return Ops().act(z)\n",
], ids=["method-through-its-class", "staticmethod", "rebound-self", "decorated-class", "method-local"])
def test_self_is_the_students_own_only_where_python_says_so(source):
    """A method's first parameter holds the student's object only for an undecorated method of an undecorated class,
    never reached through the class and never rebound; a method's local is no attribute of the class."""
    assert any("`.sigmoid`" in message for message in refused("sigmoid", IMPORTS, source))


ROUND_TWO = {
    # An alias in the class body reaches a method through its class under another name.
    "alias-in-the-class-body": "class Ops:\n    sigmoid = None\n\n    def act(self):\n        return self.sigmoid()\n\n"
                               "    run = act\n\n\ndef sigmoid(z):\n    return Ops.run(z)\n",
    # A method named like a listed method, reached from a class a function returns.
    "listed-method-name": "class Ops:\n    sigmoid = None\n\n    def to(self):\n        return self.sigmoid()\n\n\n"
                          "def ops():\n    return Ops\n\n\ndef sigmoid(z):\n    return ops().to(z)\n",
    # With setup_context, autograd calls forward(*inputs): its first parameter is the input, not a context.
    "setup-context": "class F(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx):\n"
                     "        return ctx.sigmoid()\n\n    @staticmethod\n    def setup_context(ctx, inputs, output):\n"
                     "        pass\n\n\ndef sigmoid(z):\n    return F.apply(z)\n",
    # A Function's forward called by name, with a tensor as its context.
    "forward-by-name": "class F(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx):\n"
                       "        return ctx.sigmoid()\n\n\ndef sigmoid(z):\n    return F().forward(z)\n",
    # A name set on a value nobody checks, read back on a numpy array (ctypes, then the interpreter).
    "name-set-on-a-value": "def sigmoid(z):\n    if z is None:\n        z.ctypes = 0\n    return numpy.exp([0.0]).ctypes\n",
}


@pytest.mark.parametrize("source", ROUND_TWO.values(), ids=ROUND_TWO.keys())
def test_an_object_is_the_students_own_only_where_nothing_else_can_reach_its_method(source):
    """The second round of our attacks: each reaches PyTorch's own sigmoid through an object taken for the student's,
    or a value's attribute; each is refused."""
    assert refused("sigmoid", IMPORTS + "import numpy\n", source)


HONEST = {
    "super-with-arguments": "class Sigmoid(torch.nn.Module):\n    def __init__(self):\n"
                            "        super(Sigmoid, self).__init__()\n\n    def forward(self, z):\n"
                            "        return 1 / (1 + torch.exp(-z))\n\n\ndef sigmoid(z):\n    return Sigmoid()(z)\n",
    "class-body-using-its-own-names": "class Const:\n    HALF = 0.5\n    ONE = HALF * 2\n\n\n"
                                      "def sigmoid(z):\n    return Const.ONE / (Const.ONE + torch.exp(-z))\n",
    "a-classmethod-reading-a-constant": "class Act:\n    EPS = 0.0\n\n    @classmethod\n    def of(cls, z):\n"
                                        "        return 1 / (1 + torch.exp(-z)) + cls.EPS\n\n\n"
                                        "def sigmoid(z):\n    return Act.of(z)\n",
    "torch-imported-twice": "import torch.nn\n\n\nclass _S(torch.autograd.Function):\n    @staticmethod\n"
                            "    def forward(ctx, z):\n        out = 1 / (1 + torch.exp(-z))\n        ctx.keep = out\n"
                            "        return out\n\n    @staticmethod\n    def backward(ctx, grad):\n"
                            "        return grad * ctx.keep * (1 - ctx.keep)\n\n\ndef sigmoid(z):\n    return _S.apply(z)\n",
    "an-error-message-with-the-type": "def sigmoid(z):\n    if not isinstance(z, torch.Tensor):\n"
                                      "        raise TypeError('expected a tensor, got {}'.format(type(z).__name__))\n"
                                      "    return 1 / (1 + torch.exp(-z))\n",
    "views-and-copies": "def sigmoid(z):\n    t = z.cpu().transpose(0, -1) if z.dim() else z\n"
                        "    out = 1 / (1 + torch.exp(-t))\n    return (out.transpose(0, -1) if z.dim() else out).to(z.device)\n",
}


@pytest.mark.parametrize("source", HONEST.values(), ids=HONEST.keys())
def test_honest_code_our_attacks_once_refused_is_allowed(source):
    """Correct code the second round found refused (two-argument super, a class body's own names, a classmethod's
    cls, torch imported twice, type(z).__name__ in a message, transposes and copies) is allowed."""
    assert verdict("sigmoid", IMPORTS, source) == Verdict()


def test_a_class_pattern_is_refused():
    """``case object(sigmoid=s)`` reads an attribute by name, as getattr does, with no attribute in the code."""
    source = "def sigmoid(z):\n    match z:\n        case object(sigmoid=s):\n            return s()\n"
    assert any("class pattern" in message for message in refused("sigmoid", IMPORTS, source))


def test_an_autograd_function_may_keep_what_it_likes_on_its_context():
    """``ctx.dim = dim`` in forward and ``ctx.dim`` in backward: names of the student's own on autograd's context."""
    source = ("class _Softmax(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, z, dim):\n"
              "        e = torch.exp(z - z.amax(dim=dim, keepdim=True))\n        out = e / e.sum(dim=dim, keepdim=True)\n"
              "        ctx.dim = dim\n        ctx.save_for_backward(out)\n        return out\n\n    @staticmethod\n"
              "    def backward(ctx, grad):\n        (out,) = ctx.saved_tensors\n"
              "        return out * (grad - (grad * out).sum(dim=ctx.dim, keepdim=True)), None\n\n\n"
              "def softmax(z, dim=-1):\n    return _Softmax.apply(z, dim)\n")
    assert verdict("softmax", IMPORTS, source) == Verdict()


def test_a_class_may_derive_only_from_the_listed_bases():
    """A tensor subclass (which could answer every torch call) is refused as a base."""
    messages = refused("relu", IMPORTS, "class Quiet(torch.Tensor):\n    pass\n",
                       "def relu(z):\n    return Quiet(z).clamp(min=0)\n")
    assert any("may derive only from" in message for message in messages), messages


# Activations and identities the list does not name.

@pytest.mark.parametrize("expression", [
    "torch.sinh(z) / torch.cosh(z)", "(-1j * torch.tan(1j * z)).real", "torch.nn.functional.hardtanh(z)",
    "torch.special.expit(2 * z) * 2 - 1", "torch.erf(z)", "torch.ops.aten.tanh(z)", "math.tanh(z)",
], ids=["hyperbolic", "complex", "hardtanh", "expit", "erf", "aten", "math"])
def test_what_the_list_does_not_name_is_refused(expression):
    """Functions off the list are refused whatever they compute: hyperbolic and error functions, complex numbers, and
    activations under names no word list holds."""
    assert refused("tanh", IMPORTS, f"def tanh(z):\n    return {expression}\n")


# What the student reads.

def test_a_refusal_names_the_construct_its_line_and_the_list():
    """A refused call says what, on which line of which cell, and what the list holds of that module."""
    [message, *_] = refused("sigmoid", IMPORTS, "def sigmoid(z):\n    return torch.sigmoid(z)\n")
    assert message.startswith("sigmoid uses `torch.sigmoid` on line 2 of 03_activations.ipynb, code cell 2")
    assert "which holds of torch: " in message and ", exp, " in message


def test_a_name_nothing_defines_is_a_name_error_with_the_closest_name():
    """A typo is Python's NameError with a suggestion, not a refusal."""
    result = verdict("tanh", IMPORTS, ELEMENTARY_SIGMOID, "def tanh(z):\n    return 2 * sigmod(2 * z) - 1\n")
    assert not result.refusals
    assert result.missing[0].message("tanh") == (
        "tanh uses `sigmod` on line 2 of 03_activations.ipynb, code cell 3, which is not defined (NameError). "
        "Did you mean `sigmoid`?")


def test_a_name_set_by_a_statement_the_grader_does_not_run_says_so():
    """A constant computed at the top level is not loaded: the message says why it is missing."""
    result = verdict("sigmoid", IMPORTS, "EPS = 1 / 3\n", "def sigmoid(z):\n    return 1 / (1 + torch.exp(-z)) + EPS\n")
    assert "statement the grader does not run" in result.missing[0].message("sigmoid")


# Stubs, as the grader reads them.

def test_a_method_stub_with_given_first_lines_is_a_stub_in_the_source():
    """Model.__init__ as released (super().__init__() then the raise) is a stub; with an early return it is not."""
    stub = ("class Model:\n    def __init__(self):\n        super().__init__()\n        raise NotImplementedError()\n")
    written = stub.replace("        super().__init__()\n", "        if True:\n            return\n")
    assert is_stub_in_source(cells(stub), "Model.__init__", "03_activations.ipynb, code cell 1")
    assert not is_stub_in_source(cells(written), "Model.__init__", "03_activations.ipynb, code cell 1")
