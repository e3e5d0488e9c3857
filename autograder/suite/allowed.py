"""What a Part 3 activation may use: one closed list, stated to students in ``03_activations.ipynb``.

Every name and attribute in an activation's program (see ``autograder/boundary/program.py``)
must be the student's own (a parameter, a local, a function, class or constant of the notebook,
an attribute of their own class's objects) or an entry here; anything else is refused, whatever
it is reached from. A list of what is forbidden is only as good as the names someone thought of:
PyTorch has hundreds of functions, some of them activations under other names (``hardtanh``,
``expit``, ``silu``) or identities of them (``sinh / cosh``, the tangent of an imaginary number),
and every object holds a way to the rest (``gi_frame.f_globals``). A closed list holds whatever
PyTorch adds next.

Why each group is there: the formulas of the four activations are written with the exponential
and the logarithm; their stable forms with a selection (``where``, a mask, ``clamp``, ``maximum``)
and a shift by the maximum; and a function must make tensors like its input and read its shape
and dtype. Nothing transcendental beyond ``exp`` and ``log`` (trigonometric, hyperbolic, error
functions) and nothing complex is on the list: through them an activation is one identity away.
"""

# Functions, constants and types of modules, by their full dotted names, by why they are there.
MODULE_ENTRIES: dict[str, tuple[str, ...]] = {
    "the exponential and the logarithm, and their stable combinations": (
        "torch.exp", "torch.log", "torch.log1p", "torch.expm1", "torch.logsumexp", "torch.logaddexp",
        "math.exp", "math.log", "math.log1p", "math.expm1"),
    "arithmetic written as functions": (
        "torch.add", "torch.sub", "torch.subtract", "torch.mul", "torch.multiply", "torch.div", "torch.divide",
        "torch.true_divide", "torch.neg", "torch.negative", "torch.reciprocal", "torch.pow", "torch.square",
        "torch.sqrt", "torch.abs", "torch.sign", "torch.sum", "torch.mean", "math.sqrt", "math.fabs"),
    "selection, comparison and clamping: the stable forms and ReLU": (
        "torch.where", "torch.clamp", "torch.clip", "torch.clamp_min", "torch.clamp_max", "torch.maximum",
        "torch.minimum", "torch.max", "torch.min", "torch.amax", "torch.amin", "torch.masked_fill",
        "torch.heaviside", "torch.gt", "torch.ge", "torch.lt", "torch.le", "torch.eq", "torch.ne",
        "torch.greater", "torch.greater_equal", "torch.less", "torch.less_equal", "torch.logical_and",
        "torch.logical_or", "torch.logical_not", "torch.isfinite", "torch.isinf", "torch.isnan"),
    "new tensors like the input, and the limits of a dtype": (
        "torch.zeros_like", "torch.ones_like", "torch.empty_like", "torch.full_like", "torch.zeros", "torch.ones",
        "torch.full", "torch.tensor", "torch.as_tensor", "torch.stack", "torch.cat", "torch.is_tensor",
        "torch.is_floating_point", "torch.finfo"),
    "constants, dtypes and types (real numbers only; of numpy, only its constants)": (
        "torch.e", "torch.pi", "torch.inf", "torch.nan", "math.e", "math.pi", "math.inf", "math.nan", "numpy.e",
        "numpy.pi", "numpy.inf",
        "torch.float16", "torch.bfloat16", "torch.float32", "torch.float64", "torch.half", "torch.float",
        "torch.double", "torch.bool", "torch.uint8", "torch.int8", "torch.int16", "torch.int32", "torch.int64",
        "torch.int", "torch.long", "torch.Tensor", "torch.Size", "torch.dtype", "torch.device"),
    "autograd, and classes of one's own (as base classes)": (
        "torch.no_grad", "torch.enable_grad", "torch.autograd.Function", "torch.nn.Module", "torch.nn.Parameter"),
    "type hints": (
        "typing.Any", "typing.Optional", "typing.Union", "typing.Tuple", "typing.List", "typing.Dict",
        "typing.Sequence", "typing.Callable"),
}
# The modules those live in: an activation may import them, and name their entries through them.
MODULES = frozenset({"torch", "torch.nn", "torch.autograd", "math", "numpy", "typing"})

# Methods and properties an activation may use on any value (a tensor, the result of torch.max, a list, a
# finfo), by why they are there.
VALUE_ENTRIES: dict[str, tuple[str, ...]] = {
    "tensor arithmetic, exponential and logarithm, as methods": (
        "exp", "exp_", "log", "log_", "log1p", "expm1", "logsumexp", "logaddexp", "add", "add_", "sub", "sub_",
        "mul", "mul_", "div", "div_", "neg", "neg_", "reciprocal", "pow", "pow_", "square", "sqrt", "abs", "abs_",
        "sign", "sum", "mean"),
    "selection, comparison and clamping, as methods": (
        "where", "clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_",
        "maximum", "minimum", "max", "min", "amax", "amin", "values", "indices", "masked_fill", "masked_fill_",
        "fill_", "zero_", "copy_", "heaviside", "gt", "ge", "lt", "le", "eq", "ne", "logical_not", "isfinite",
        "isinf", "isnan", "any", "all"),
    "shape, dtype and device": (
        "shape", "ndim", "dtype", "device", "size", "dim", "numel", "nelement", "is_floating_point",
        "requires_grad", "eps", "tiny"),
    "copies, conversions and views": (
        "clone", "detach", "data", "contiguous", "float", "double", "half", "to", "type_as", "item", "tolist",
        "new_zeros", "new_ones", "new_full", "new_empty", "new_tensor", "view", "view_as", "reshape", "reshape_as",
        "flatten", "unsqueeze", "squeeze", "expand", "expand_as", "transpose", "permute", "movedim", "t", "T", "cpu"),
    "an autograd.Function of one's own: its context and how it is called": (
        "save_for_backward", "saved_tensors", "needs_input_grad", "apply"),
    "lists, dicts and strings built along the way (an error's message)": ("append", "extend", "items", "keys", "get",
                                                                          "format"),
}

# The dunder names the list allows: a class's name (a string), and the class of an object of the student's own.
VALUE_DUNDERS = frozenset({"__name__"})
OWN_DUNDERS = frozenset({"__class__"})

# Built-in functions and types an activation may use.
BUILTINS = frozenset({
    "abs", "all", "any", "bool", "callable", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "object", "pow", "print", "range",
    "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "super", "staticmethod",
    "classmethod", "property", "NotImplemented", "Ellipsis",
    # Exceptions, to raise on bad input: TypeError, ValueError, ...
    "ArithmeticError", "AssertionError", "Exception", "IndexError", "KeyError", "NotImplementedError",
    "OverflowError", "RuntimeError", "TypeError", "ValueError", "ZeroDivisionError",
})
# What a class of one's own may derive from, and the special methods it may define.
BASES = frozenset({"torch.autograd.Function", "torch.nn.Module", "object"})
SPECIAL_METHODS = frozenset({"__init__", "__call__", "__repr__", "__str__"})

MODULE_FUNCTIONS = frozenset(name for names in MODULE_ENTRIES.values() for name in names)
VALUE_ATTRIBUTES = frozenset(name for names in VALUE_ENTRIES.values() for name in names) | VALUE_DUNDERS


def listed(names: frozenset[str] | tuple[str, ...], prefix: str = "") -> str:
    """``names`` sorted, as a message lists them: ``exp, log, ...``, each without ``prefix``."""
    return ", ".join(sorted(name.removeprefix(prefix) for name in names))


def module_list(module: str) -> str:
    """What the list allows of ``module`` (``torch``, ``math``, ...), for a refusal's message."""
    entries = [name for name in MODULE_FUNCTIONS if name.rpartition(".")[0] == module]
    return f"{module}: {listed(tuple(entries), module + '.')}" if entries else f"{module}: nothing"


LIST_HEADING = "**What your activations may use.**"


def instructions() -> str:
    """The list as ``03_activations.ipynb`` states it to students, in a markdown cell of its own (a test keeps the two
    the same)."""
    def code(names: tuple[str, ...] | frozenset[str], prefix: str = "") -> str:
        return ", ".join(f"`{prefix}{name}`" for name in sorted(names))

    lines = [
        f"{LIST_HEADING} The grader reads the code of each activation, and of every function, class and constant "
        "of yours it uses, before it runs any of it, and every name in that code must be on this list or your own; "
        "anything else is refused, however it is reached, with its line, and the activation earns no points. "
        "Your own are your parameters and local variables, your functions, your constants written as literals "
        "(`EPS = 1e-12`), your classes (deriving from " + code(BASES) + "; special methods "
        + code(SPECIAL_METHODS) + ") and what they define or set on `self`, `ctx` or the class. Arithmetic and "
        "comparisons with operators (`+ - * / ** @ < >= ...`), `if`, loops, indexing and slicing need no entry. "
        "Complex numbers, dunder names (but `super().__init__()`), `global` and imports inside functions are "
        "refused.",
        "",
    ]
    for why, names in MODULE_ENTRIES.items():
        lines.append(f"- {why[0].upper()}{why[1:]}: {code(names)}.")
    lines.append(f"- Imports: of {code(MODULES)}, or of an entry above (`from torch import exp`).")
    for why, names in VALUE_ENTRIES.items():
        lines.append(f"- On any tensor or value, {why}: {code(names, '.')}.")
    lines.append(f"- Built-ins: {code(BUILTINS)}.")
    return "\n".join(lines)
