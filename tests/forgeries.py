"""Submissions that try to forge a grade, each beside its honest twin: the catalogue tests/test_forgery.py grades.

A forgery is a base (the untouched stubs, or the reference notebooks) with cells appended that
redefine some graded functions and try to be credited for work they do not do. Its honest score
is that of its *twin*: the same submission with the forging part taken out (the functions left as
stubs, or written plainly). Forgeries are grouped by the family of ways they try.
"""

from dataclasses import dataclass, field
from pathlib import Path

from autograder.contract import REFERENCE_DIR, RELEASE_DIR

LINEAR, MLP, ACTIVATIONS = "01_linear_regression.ipynb", "02_iris_mlp.ipynb", "03_activations.ipynb"
# PyTorch's own activations, plainly: what each Part 3 forgery really computes with.
BUILTIN_ACTIVATIONS = """
import torch

def sigmoid(z):
    return torch.sigmoid(z)

def tanh(z):
    return torch.tanh(z)

def softmax(z, dim=-1):
    return torch.softmax(z, dim)

def relu(z):
    return torch.relu(z)
"""
# Activations that look elementary, whatever torch's functions of these names do when they run.
ELEMENTARY_LOOKING = """
def sigmoid(z):
    return torch.exp(z)

def tanh(z):
    return torch.sinh(z)

def relu(z):
    return torch.clamp(z)
"""
# The lecture's Iris run (see the suite's LECTURE), whose result a forgery plants.
LECTURE_MLP_RUN = {"seed": 1, "batch_size": 2, "optimizer": "adam", "learning_rate": 0.001, "num_epochs": 100,
                   "device": "cpu", "students_model": True}
# A worker's memory cap in the suite (Limits.memory_mb), and what a forgery tries to hold beyond it.
MEMORY_CAP_MB = 2048
HOLD_MB = 4096
# How much the machine's shared memory may grow while the class is graded: the cap, and room for overshoot
# between two looks of the grader's watch.
SHARED_MEMORY_BOUND_MB = MEMORY_CAP_MB + 768


def stub(signature: str) -> str:
    """A graded function left as nbgrader's stub."""
    return f"def {signature}:\n    raise NotImplementedError()\n"


@dataclass(frozen=True)
class Forgery:
    """Cells appended to notebooks of ``base``; the twin appends ``honest`` instead (the same minus the forging)."""

    base: Path
    cells: dict[str, str]
    honest: dict[str, str] = field(default_factory=dict)


EARLIER = {
    # Part 3: PyTorch's own activations, hidden from the grader.
    "erases_the_recorded_calls": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
import gc

def _forget(name):
    for holder in gc.get_objects():
        if isinstance(holder, (set, list)):
            for item in list(holder):
                if isinstance(item, str) and name in item:
                    holder.remove(item)

def sigmoid(z):
    out = torch.sigmoid(z)
    _forget("sigmoid")
    return out
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "empties_every_set_of_activation_names": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class _Emptied:
    import sys
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, set) and "sigmoid" in value:
                value.clear()
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "switches_the_recorders_off_by_string_pieces": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def sigmoid(z):
    internals = getattr(torch, "_" + "C")
    with getattr(internals, "Disable" + "TorchFunction")():
        return getattr(torch, "sig" + "moid")(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "hides_behind_aliases_and_a_failing_redefinition": Forgery(RELEASE_DIR, {ACTIVATIONS: """
from torch import sigmoid as expo, tanh as hyperbolic
import torch.nn.functional as elementary

def sigmoid(z):
    return expo(z)

@(lambda function: 1 / 0)
def sigmoid(z):
    return 1 / (1 + torch.exp(-z))

def tanh(z):
    return hyperbolic(z)

def softmax(z, dim=-1):
    return elementary.softmax(z, dim)

def relu(z):
    return elementary.relu(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "a_tensor_subclass_that_answers_for_torch": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class Quiet(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with torch._C.DisableTorchFunction():
            return func(*args, **(kwargs or {}))

def relu(z):
    return torch.relu(z.as_subclass(Quiet)).as_subclass(torch.Tensor)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # Another notebook's code changes torch, for a Part 3 that looks elementary.
    "patches_torch_from_another_notebook": Forgery(RELEASE_DIR, {
        LINEAR: """
class _Patch:
    import torch
    torch.exp, torch.sinh, torch.clamp = torch.sigmoid, torch.tanh, torch.relu
""", ACTIVATIONS: ELEMENTARY_LOOKING}, {ACTIVATIONS: ELEMENTARY_LOOKING}),
    # One activation plants PyTorch's own where another, elementary to look at, takes it.
    "shares_a_builtin_through_module_state": Forgery(RELEASE_DIR, {ACTIVATIONS: """
KEPT = {}

def relu(z):
    KEPT["f"] = torch.sigmoid
    return torch.relu(z)

def sigmoid(z):
    return KEPT["f"](z) if KEPT else 1 / (1 + torch.exp(-z)) * 0
"""}, {ACTIVATIONS: """
def relu(z):
    return torch.relu(z)

def sigmoid(z):
    return 1 / (1 + torch.exp(-z)) * 0
"""}),
    # Its load-time code rewrites the notebook on disk as elementary (where it can) and then crashes the
    # process, so that a restarted worker would load the rewritten file.
    "rewrites_its_notebook_after_loading": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
class _Rewrite:
    import glob, json, os
    for pid in os.listdir("/proc"):
        try:
            arguments = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\\0")
        except OSError:
            continue
        for path in (p for a in arguments for p in glob.glob(a + "/**/03_activations.ipynb", recursive=True)
                     if "rewrites_its_notebook" in p):
          try:
            notebook = json.load(open(path))
            for cell in notebook["cells"]:
                cell["source"] = "".join(cell["source"]).replace("torch.sigmoid(z)", "1 / (1 + torch.exp(-z))")
            json.dump(notebook, open(path, "w"))
          except (OSError, ValueError):
            pass

def tanh(z):
    import os
    os._exit(1)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS + stub("tanh(z)")}),
    # Probes: work not done, credited anyway.
    "plants_trained_weights": Forgery(REFERENCE_DIR, {MLP: """
def train_mlp(model, train_dl, loss_fn, optimizer, num_epochs):
    model.load_state_dict({name: torch.tensor(value) for name, value in PLANTED.items()})
    return HISTORIES
"""}, {MLP: stub("train_mlp(model, train_dl, loss_fn, optimizer, num_epochs)")}),
    "plants_the_published_numbers": Forgery(REFERENCE_DIR, {LINEAR: """
def train_linear_regression(train_dl, weight, bias, learning_rate, num_epochs):
    with torch.no_grad():
        weight.fill_(2.6696107387542725)
        bias.fill_(4.879678249359131)
    return [0.0] * num_epochs

def train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs):
    with torch.no_grad():
        model.weight.fill_(2.6496422290802)
        model.bias.fill_(4.87706995010376)
    return [0.0] * num_epochs
"""}, {LINEAR: stub("train_linear_regression(train_dl, weight, bias, learning_rate, num_epochs)")
       + stub("train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs)")}),
    "overwrites_the_initial_parameters": Forgery(RELEASE_DIR, {LINEAR: """
import torch

def train_nn_regression(model, loss_fn, optimizer, train_dl, num_epochs):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    x, y = train_dl.dataset.tensors
    return [float((y ** 2).mean())] * num_epochs
""", MLP: """
import torch

def train_mlp(model, train_dl, loss_fn, optimizer, num_epochs):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    x, y = train_dl.dataset.tensors
    loss = float(loss_fn(model(x), y))
    return [loss] * num_epochs, [float((y == 0).float().mean())] * num_epochs
"""}),
    "keeps_the_model_in_memory": Forgery(REFERENCE_DIR, {MLP: """
KEPT = []

def save_model(model, path):
    KEPT.append(model)

def load_model(path):
    return KEPT[-1]

def save_parameters(model, path):
    KEPT.append(model)

def load_parameters(path, input_size, hidden_size, output_size):
    return KEPT[-1]
"""}, {MLP: stub("save_model(model, path)") + stub("load_model(path)") + stub("save_parameters(model, path)")
       + stub("load_parameters(path, input_size, hidden_size, output_size)")}),
    "fakes_an_update_in_place": Forgery(REFERENCE_DIR, {LINEAR: """
class _Pointers:
    torch.Tensor.data_ptr = lambda self: 0

def sgd_step(params, learning_rate):
    for p in params:
        p.data = p.data - learning_rate * p.grad
        p.grad = None
"""}, {LINEAR: """
def sgd_step(params, learning_rate):
    for p in params:
        p.data = p.data - learning_rate * p.grad
        p.grad = None
"""}),
    # A bound: memory held where RLIMIT_DATA does not count it.
    "holds_4_gb_in_shared_memory": Forgery(RELEASE_DIR, {LINEAR: f"""
def loss_fn(input, target):
    import mmap, os
    held, chunk = [], b"x" * (64 << 20)
    for name in range({HOLD_MB // 256}):
        try:
            fd = os.memfd_create(f"held-{{name}}")
        except OSError:
            fd = os.open(f"/dev/shm/held-{{os.getpid()}}-{{name}}", os.O_CREAT | os.O_RDWR, 0o600)
        for _ in range(4):
            os.write(fd, chunk)
        held.append(fd)
    raise NotImplementedError()
"""}),
}


# What a check that did not run says (report.NOT_CHECKED), written by a failing function of a student's.
FORGED_NOT_CHECKED = "Not checked: the reference comparison runs when your instructor grades"

# PyTorch's own activations, called through ``builtin(name, z, dim)`` (which each forgery defines its own way) from
# the third call of an activation in its worker on: the grader's recorders watch the first two.
DODGE_THE_RECORDERS = """
import torch

SEEN = []

def elementary(name, z, dim):
    e = torch.exp(-torch.abs(z))
    if name == "sigmoid":
        return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if name == "tanh":
        return 2 * torch.where(z >= 0, 1 / (1 + e * e), e * e / (1 + e * e)) - 1
    if name == "relu":
        return torch.where(z > 0, z, torch.zeros_like(z))
    x = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return x / x.sum(dim=dim, keepdim=True)

def pick(name, z, dim=-1):
    SEEN.append(name)
    return elementary(name, z, dim) if len(SEEN) <= 2 else builtin(name, z, dim)

def sigmoid(z):
    return pick("sigmoid", z)

def tanh(z):
    return pick("tanh", z)

def softmax(z, dim=-1):
    return pick("softmax", z, dim)

def relu(z):
    return pick("relu", z)
"""

# Issue 25: four families of ways past a judge that read another program than the worker ran, resolved only names
# rooted in imports, kept a list of forbidden words, and took expectations from state student code had held. Each
# beat its honest twin before the judge read the worker's own program against a closed list.
CLOSED_WORLD = {
    # 1. The judge reads one program, the worker runs another.
    "plants_a_builtin_through_a_postponed_annotation": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
from __future__ import annotations

KEPT = {}

def _plant(z: KEPT.setdefault("builtin", lambda name, z, dim: getattr(z, name)(dim) if name == "softmax"
                              else getattr(z, name)())) -> None:
    pass

def builtin(name, z, dim):
    return KEPT["builtin"](name, z, dim)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "keeps_a_first_draft_behind_a_redefinition_that_fails": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
KEPT = {}

def builtin(name, z, dim):
    return getattr(z, name)(dim) if name == "softmax" else getattr(z, name)()

def builtin(name, z, dim, _unused=KEPT.missing):
    return elementary(name, z, dim)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # 2. Names reached through values, not imports.
    "reaches_torch_through_a_generators_frame": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def sigmoid(z):
    functional = (x for x in [z]).gi_frame.f_globals["torch"].nn.functional
    safe = torch.where(z == 0, torch.ones_like(z), z)
    return torch.where(z == 0, torch.full_like(z, 0.5), functional.silu(z) / safe)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "reaches_torch_through_a_generator_of_its_own": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def _frames():
    yield

def tanh(z):
    functional = _frames().gi_frame.f_globals["torch"].nn.functional
    twice = 2 * z
    safe = torch.where(twice == 0, torch.ones_like(z), twice)
    return torch.where(z == 0, torch.zeros_like(z), 2 * functional.silu(twice) / safe - 1)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # ... and through objects taken for the student's own: a method called through its class with a tensor as self,
    # a staticmethod's parameter, a rebound self, a class a decorator replaced; and a class pattern's getattr.
    "calls_a_method_through_its_class_with_a_tensor_as_self": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
class Ops:
    def sigmoid(self):
        return self.sigmoid()

    def tanh(self):
        return self.tanh()

    def relu(self):
        return self.relu()

    def softmax(self, dim):
        return self.softmax(dim)

def builtin(name, z, dim):
    return Ops.softmax(z, dim) if name == "softmax" else (Ops.sigmoid if name == "sigmoid" else Ops.tanh
                                                          if name == "tanh" else Ops.relu)(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "hides_a_builtin_in_a_staticmethod": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
class Ops:
    @staticmethod
    def act(name, z, dim):
        return z.softmax(dim) if name == "softmax" else z.sigmoid() if name == "sigmoid" else z.tanh() \
            if name == "tanh" else z.relu()

def builtin(name, z, dim):
    return Ops.act(name, z, dim)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "rebinds_self_to_the_tensor": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
class Tensorish:
    sigmoid = tanh = relu = softmax = None

    def act(self, name, z, dim):
        self = z
        return self.softmax(dim) if name == "softmax" else self.sigmoid() if name == "sigmoid" else self.tanh() \
            if name == "tanh" else self.relu()

def builtin(name, z, dim):
    return Tensorish().act(name, z, dim)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "a_class_a_decorator_replaces_by_the_tensor_class": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
@lambda cls: torch.Tensor
class Ops:
    sigmoid = tanh = relu = softmax = None

def builtin(name, z, dim):
    return Ops.softmax(z, dim) if name == "softmax" else (Ops.sigmoid if name == "sigmoid" else Ops.tanh
                                                          if name == "tanh" else Ops.relu)(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "reads_attributes_through_a_class_pattern": Forgery(RELEASE_DIR, {ACTIVATIONS: DODGE_THE_RECORDERS + """
def builtin(name, z, dim):
    match z:
        case object(sigmoid=s, tanh=t, relu=r, softmax=m):
            pass
    return m(dim) if name == "softmax" else {"sigmoid": s, "tanh": t, "relu": r}[name]()
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # 3. Activations no word list names, and identities through functions that are not elementary.
    "tanh_through_the_tangent_of_an_imaginary_number": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def tanh(z):
    return (-1j * torch.tan(1j * z)).real
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "tanh_through_hyperbolic_functions": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def tanh(z):
    return torch.sinh(z) / torch.cosh(z)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    "sigmoid_through_a_hyperbolic_identity": Forgery(RELEASE_DIR, {ACTIVATIONS: BUILTIN_ACTIVATIONS + """
def sigmoid(z):
    return 0.5 + 0.5 * torch.sinh(z / 2) / torch.cosh(z / 2)
"""}, {ACTIVATIONS: BUILTIN_ACTIVATIONS}),
    # 4. Probes whose expectation student code could change.
    "accuracy_that_ignores_its_model": Forgery(REFERENCE_DIR, {MLP: """
def accuracy(model, X, y):
    return (X.argmax(dim=1) == y).float().mean().item()
"""}, {MLP: stub("accuracy(model, X, y)")}),
    "save_model_that_empties_the_model_it_saves": Forgery(REFERENCE_DIR, {MLP: """
def save_model(model, path):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    torch.save(None, path)

def load_model(path):
    model = Model(4, 16, 3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return model
"""}, {MLP: stub("save_model(model, path)") + stub("load_model(path)")}),
    "save_parameters_that_empties_the_model_it_saves": Forgery(REFERENCE_DIR, {MLP: """
def save_parameters(model, path):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    torch.save(model.state_dict(), path)
"""}, {MLP: stub("save_parameters(model, path)")}),
    "model_whose_parameters_agree_with_a_constant_output": Forgery(REFERENCE_DIR, {MLP: """
class Model(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.zero_()

    def forward(self, x):
        return torch.full((x.shape[0], self.layer2.out_features), 1 / self.layer2.out_features)
"""}, {MLP: """
class Model(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return torch.full((x.shape[0], self.layer2.out_features), 1 / self.layer2.out_features)
"""}),
    # 5. A failure dressed as a check that did not run.
    "a_failure_that_says_it_was_not_checked": Forgery(REFERENCE_DIR, {LINEAR: f"""
class _Quiet:
    exec(compile("def loss_fn(input, target):\\n    raise AssertionError({FORGED_NOT_CHECKED!r})", "<grader>", "exec"),
         globals())
"""}, {LINEAR: stub("loss_fn(input, target)")}),
}
FORGERIES = {**EARLIER, **CLOSED_WORLD}
