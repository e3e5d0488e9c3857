"""Whether an activation is written from the operations Part 3 allows, judged by the grader from its program.

The grader reads each notebook once, before any student code runs, and builds the activation's
program (``autograder/boundary/program.py``): the statements it needs, every binding of every
name among them; the worker that checks the activation runs those and nothing else. The judge
reads every statement of it, all of it (bodies, decorators, defaults, annotations, class bodies),
and every name and attribute in it must be the student's own or on the closed list of
``allowed.py``, whatever it is reached from:

- a name: a parameter or local, a definition of the notebook (a function, class or literal
  constant), an import of a listed module or entry, or a listed built-in;
- a dotted name from an import: an entry of the list (``torch.exp``), then methods of the list;
- an attribute of any other value: a method or property of the list (``.exp()``, ``.amax``),
  or, on an object of a class of the student's own (``self``, ``ctx``, the class itself), what
  that class defines or sets;
- no dunder, no complex number, no ``global``, no import inside a function, no change to a module
  or to another object's attributes; a class derives from ``torch.autograd.Function``,
  ``torch.nn.Module`` or ``object`` only.

Each refusal names the construct, its line and the list. A name the notebook does not define is no
refusal: it is Python's ``NameError``, said once, with the closest name the notebook defines.
"""

import ast
import builtins
import difflib
from dataclasses import dataclass, field

from autograder.boundary.notebook import Cell
from autograder.boundary.program import (ScopeWalk, Statement, bound_at_top, is_builtin, notebook_definitions, program,
                                         program_statements, UsedNames)
from autograder.suite import allowed
from autograder.suite.own_classes import OwnClass, OwnClasses, allows

SHOWN_LENGTH = 60
# The most code of a notebook the grader judges (an honest one holds a few kB; parsing costs some hundred
# bytes of memory per byte of code), and the most refusals it lists.
MAX_CODE_CHARS = 256 * 1024
MAX_REFUSALS = 20
HINT = ("Part 3 allows only the operations listed at the top of 03_activations.ipynb (torch.exp, torch.where, "
        "arithmetic, ...).")
# What PyTorch's own activations are called, for the recorders' second opinion (``is_activation``): a word list can
# only add a refusal there, never grant a pass.
ACTIVATION_WORDS = frozenset({
    "sigmoid", "expit", "tanh", "softmax", "softmin", "relu", "elu", "glu", "silu", "swish", "mish", "softplus", "softsign",
    "hardswish", "shrink", "threshold", "logits", "loss", "lstm", "gru", "rnn", "attention",
})


def is_activation(name: str) -> bool:
    """Whether a function or operator of that name is one of PyTorch's activations, or built on one."""
    lowered = name.lower()
    return any(word in lowered for word in ACTIVATION_WORDS)


def relies(graded: str, via: tuple[str, ...]) -> str:
    """Who uses a construct: ``tanh``, or ``tanh uses sigmoid, which``."""
    return graded if len(via) <= 1 else f"{graded} uses {', which uses '.join(via[1:])}, which"


@dataclass(frozen=True)
class Refusal:
    """One construct the rules refuse, where it is, and why."""

    construct: str  # as written, shortened: "torch.sinh", ".sigmoid", "1j"
    cell: str  # the cell's name, as messages name cells
    line: int  # within the cell
    reason: str
    via: tuple[str, ...] = ()  # how the graded name reaches it: ("tanh", "sigmoid")
    rank: int = 0  # among refusals as deep, which to say first: what code does (0) before what it imports (1)

    def message(self, graded: str) -> str:
        """The refusal in the student's terms, for the activation ``graded``."""
        return f"{relies(graded, self.via)} uses `{self.construct}` on line {self.line} of {self.cell}: {self.reason}"


@dataclass(frozen=True)
class Missing:
    """A name the program uses that the notebook's definitions do not bind: Python's NameError, said before it runs."""

    name: str
    cell: str
    line: int
    via: tuple[str, ...]
    suggestion: str | None = None
    note: str = ""

    def message(self, graded: str) -> str:
        said = f"{relies(graded, self.via)} uses `{self.name}` on line {self.line} of {self.cell}, which is not defined"
        said += f" (NameError). Did you mean `{self.suggestion}`?" if self.suggestion else " (NameError)."
        return f"{said}{self.note}"


@dataclass
class Verdict:
    """What the judge found in an activation's program: refusals, and names nothing defines."""

    refusals: list[Refusal] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)


def judge(cells: list[Cell], name: str) -> Verdict:
    """The verdict on the activation ``name`` of a notebook's ``cells``: on every statement of its program."""
    size = sum(len(cell.source) for cell in cells)
    if size > MAX_CODE_CHARS:
        first = cells[0].filename if cells else "the notebook"
        return Verdict([Refusal(f"{size // 1024} kB of code", first, 1,
                                f"the notebook holds more than {MAX_CODE_CHARS // 1024} kB of code, more than the grader "
                                "reads to judge it; clear what Part 3 does not need", (name,))])
    statements = list(program_statements(program(cells, name)))
    court = Court(statements, name, cells)
    for statement in statements:
        walk = Judgement(court, statement)
        if isinstance(statement.node, (ast.Import, ast.ImportFrom)):
            walk.imported(statement.node)
        else:
            walk.visit(statement.node)
    # What the activation's own code does first, then what the code it relies on does.
    court.verdict.refusals.sort(key=lambda refusal: (len(refusal.via), refusal.rank))
    return court.verdict


class Court:
    """What every walk of one program shares: its bindings, how each statement is reached, its own classes, and the
    verdict so far."""

    def __init__(self, statements: list[Statement], graded: str, cells: list[Cell]) -> None:
        self.graded = graded
        self.notebook = notebook_definitions(tuple(cells))
        self.bindings: dict[str, list[ast.stmt]] = {}
        for statement in statements:
            for bound in bound_at_top(statement.node):
                self.bindings.setdefault(bound, []).append(statement.node)
        self.via = reached(statements, graded)
        nodes = [node for statement in statements for node in ast.walk(statement.node)]
        self.classes = OwnClasses(nodes, self.base_path, self.bindings)
        self.verdict = Verdict()
        self._seen: set[tuple] = set()

    def refuse(self, refusal: Refusal) -> None:
        key = (refusal.construct, refusal.cell, refusal.line, refusal.reason)
        if key not in self._seen and len(self.verdict.refusals) < MAX_REFUSALS:
            self._seen.add(key)
            self.verdict.refusals.append(refusal)

    def missing(self, node: ast.Name, cell: Cell, via: tuple[str, ...]) -> None:
        if any(m.name == node.id for m in self.verdict.missing):
            return
        candidates = set(self.notebook.bindings) | {n for n in dir(builtins) if not n.startswith("_")}
        close = difflib.get_close_matches(node.id, sorted(candidates), n=1, cutoff=0.7)
        note = ""
        if node.id in self.notebook.not_loaded:
            note = (f" The notebook sets `{node.id}` in a statement the grader does not run: it loads only imports, "
                    "def, class and constants written as literals (NAME = 0.5).")
        elif self.notebook.unparsed:
            note = " Note: " + "; ".join(self.notebook.unparsed) + ", so nothing in it is defined."
        self.verdict.missing.append(Missing(node.id, cell.filename, node.lineno, via, close[0] if close else None, note))

    def imports(self, name: str) -> list[str] | None:
        """The dotted names an imported ``name`` is bound to, where every binding of it is an import; else None."""
        paths = []
        for node in self.bindings.get(name, []):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                return None
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    paths.append(import_path(node, alias))
        return paths or None

    def base_path(self, base: ast.expr) -> str | None:
        """The dotted name a base class expression of the module's scope is an import of (``torch.nn.Module``), or
        ``object``; None for anything else."""
        parts, root = [], base
        while isinstance(root, ast.Attribute):
            parts.insert(0, root.attr)
            root = root.value
        if not isinstance(root, ast.Name):
            return None
        if root.id == "object" and not parts and root.id not in self.bindings:
            return "object"
        paths = set(self.imports(root.id) or [])  # the same import twice (`import torch`, `import torch.nn`) is one
        return ".".join([paths.pop(), *parts]) if len(paths) == 1 else None


def import_path(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """What ``alias`` of an import binds its name to: ``torch`` for ``import torch.nn``, ``torch.nn`` for ``import
    torch.nn as nn``, ``torch.exp`` for ``from torch import exp``."""
    if isinstance(node, ast.Import):
        return alias.name if alias.asname else alias.name.split(".")[0]
    return f"{'.' * node.level}{node.module or ''}.{alias.name}"


def reached(statements: list[Statement], graded: str) -> dict[int, tuple[str, ...]]:
    """For each statement of the program, the names by which the graded name reaches it: ``("tanh", "sigmoid")``."""
    binding: dict[str, list[Statement]] = {}
    for statement in statements:
        for bound in bound_at_top(statement.node):
            binding.setdefault(bound, []).append(statement)
    via: dict[int, tuple[str, ...]] = {}
    waiting = [(graded, (graded,))]
    while waiting:
        name, chain = waiting.pop(0)
        for statement in binding.get(name, []):
            if id(statement.node) not in via:
                via[id(statement.node)] = chain
                waiting += [(used, (*chain, used)) for used in sorted(UsedNames.of(statement.node))]
    return via


def is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def shorten(text: str) -> str:
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH - 1] + "…"


NOT_LISTED_MODULE = "it is not on the list of operations Part 3 allows, which holds of {module}"
NOT_LISTED_VALUE = ("`.{attribute}` is not on the list of methods and attributes Part 3 allows (in the markdown cell "
                    "after the notebook's introduction)")
DUNDER = "dunder names reach the interpreter's internals; Part 3 needs none (but `super().__init__()`)"


class Judgement(ScopeWalk):
    """The walk of one statement of a program, refusing what the list does not allow."""

    def __init__(self, court: Court, statement: Statement) -> None:
        super().__init__()
        self.court, self.cell = court, statement.cell
        self.via = court.via.get(id(statement.node), (court.graded,))
        # Names that hold an object of the student's own class here, and as what: "self" or "ctx" (see own_classes).
        self.receivers: dict[str, tuple[OwnClass, str]] = {}

    def refuse(self, node: ast.AST, reason: str, construct: str | None = None) -> None:
        shown = shorten(construct if construct is not None else ast.unparse(node))
        self.court.refuse(Refusal(shown, self.cell.filename, getattr(node, "lineno", 0), reason, self.via))

    def inner(self, node: ast.AST) -> "Judgement":
        walk = super().inner(node)
        walk.receivers = {name: held for name, held in self.receivers.items() if name not in walk.local}
        own = self.court.classes.by_node.get(id(self.node)) if self.is_class else None
        if own is not None and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind, first = self.court.classes.receiver(own, node)
            if kind is not None:
                walk.receivers[first] = (own, kind)
        return walk

    # Imports.

    def imported(self, node: ast.Import | ast.ImportFrom) -> None:
        """A top-level import: of a module on the list, or of an entry of it."""
        for alias in node.names:
            if isinstance(node, ast.Import):
                path = alias.name
                allowed_here = path in allowed.MODULES
            else:
                path = import_path(node, alias)
                allowed_here = node.level == 0 and (path in allowed.MODULES or path in allowed.MODULE_FUNCTIONS)
            if not allowed_here:
                # Said of whoever uses the name it binds: "relu uses `from torch import relu as r`".
                self.court.refuse(Refusal(
                    shorten(ast.unparse(node)), self.cell.filename, node.lineno,
                    f"Part 3 may import only {allowed.listed(allowed.MODULES)} and the entries of its list "
                    f"({path} is neither)", self.via[:-1] or self.via, rank=1))

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.refuse(node, "imports belong at the top of the notebook, where the grader can follow them")

    visit_ImportFrom = visit_Import

    # Names.

    def global_name(self, node: ast.Name) -> None:
        name = node.id
        if is_dunder(name):
            self.refuse(node, DUNDER)
        elif name in self.court.bindings:
            paths = self.court.imports(name) or []
            held = [path for path in paths if path in allowed.MODULES]
            if held:
                self.refuse(node, f"that is the module {held[0]}: a module held as a value leads wherever its "
                            "attributes do; use its functions by their dotted names")
        elif is_builtin(name):
            if name not in allowed.BUILTINS:
                self.refuse(node, f"`{name}` is not a built-in Part 3 allows, which are {allowed.listed(allowed.BUILTINS)}")
        else:
            self.court.missing(node, self.cell, self.via)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load) and is_dunder(node.id):
            self.refuse(node, DUNDER)
        super().visit_Name(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, complex):
            self.refuse(node, "complex numbers have no place in Part 3: through them an activation is an identity of "
                        "other functions")

    def visit_Global(self, node: ast.Global) -> None:
        self.refuse(node, "it changes the notebook's own names while grading runs", f"global {', '.join(node.names)}")

    # Attributes.

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.insert(0, root.attr)
            root = root.value
        storing = not isinstance(node.ctx, ast.Load)
        if self.is_type_name(root, chain):  # type(z).__name__, for an error's message: a string, nothing more
            self.visit(root.args[0])
            return
        if isinstance(root, ast.Name) and not self.is_bound(root.id) and root.id not in self.court.bindings \
                and not is_builtin(root.id):
            self.visit(root)  # a name nothing defines: Python's NameError, not its attributes, is what to say
            return
        if isinstance(root, ast.Name) and not self.is_bound(root.id):
            paths = self.court.imports(root.id)
            if paths is not None:
                for path in paths:
                    self.dotted(node, [*path.split("."), *chain], storing)
                return
        held = self.receiver(root)
        if held is not None:
            own, kind = held
            first, *rest = chain
            if is_dunder(first) and (storing or chain[1:] != ["__name__"] or first != "__class__"):
                self.refuse(node, DUNDER)
            elif storing and not rest:
                pass  # an attribute of the student's own object, set to a value judged where it is written
            elif not allows(own, kind, chain):
                self.refuse(node, f"`.{first}` is neither what your class {own.name} defines or sets nor on the list "
                            "of methods and attributes Part 3 allows (in the markdown cell after the notebook's "
                            "introduction)")
            else:
                self.values(node, rest[1:] if first == "__class__" else rest, storing and bool(rest))
        elif self.is_super(root):
            if chain != ["__init__"]:
                self.refuse(node, "of super() Part 3 allows only `super().__init__()`")
        else:
            self.values(node, chain, storing)
        self.visit(root)

    def receiver(self, root: ast.expr) -> tuple[OwnClass, str] | None:
        """The class of the student's own whose object (``self``, ``ctx``, ``MyModule()``) or class (``MyFunction``)
        ``root`` is known to be, and as what; None for any other value."""
        if isinstance(root, ast.Call) and isinstance(root.func, ast.Name) and not self.is_bound(root.func.id):
            own = self.court.classes.of_name(root.func.id)
            return None if own is None else (own, "self")
        if not isinstance(root, ast.Name):
            return None
        if self.is_bound(root.id):
            return self.receivers.get(root.id)
        own = self.court.classes.of_name(root.id)
        return None if own is None else (own, "class")

    def is_super(self, root: ast.expr) -> bool:
        """Whether ``root`` is a call of the built-in ``super`` (``super()``, or ``super(Sigmoid, self)`` as tutorials
        write it): of which only ``__init__`` is allowed, whatever its arguments (they are judged as any others)."""
        return (isinstance(root, ast.Call) and isinstance(root.func, ast.Name) and root.func.id == "super"
                and not self.is_bound("super") and "super" not in self.court.bindings)

    def is_type_name(self, root: ast.expr, chain: list[str]) -> bool:
        """Whether an attribute chain is ``type(x).__name__``: the built-in ``type`` of one argument, read for its name
        (``type`` of three makes classes, and is refused everywhere else)."""
        return (chain == ["__name__"] and isinstance(root, ast.Call) and isinstance(root.func, ast.Name)
                and root.func.id == "type" and len(root.args) == 1 and not root.keywords
                and not self.is_bound("type") and "type" not in self.court.bindings)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        self.refuse(node, "a class pattern reads the attributes it names from whatever it matches, as getattr does; "
                    "Part 3 needs none", f"case {shorten(ast.unparse(node))}")

    def values(self, node: ast.Attribute, chain: list[str], storing: bool) -> None:
        """Attributes of a value: each on the list; none set (only the student's own objects' attributes may be)."""
        for attribute in chain:
            if is_dunder(attribute) and attribute not in allowed.VALUE_DUNDERS:
                self.refuse(node, DUNDER)
                return
            if attribute not in allowed.VALUE_ATTRIBUTES:
                self.refuse(node, NOT_LISTED_VALUE.format(attribute=attribute))
                return
        if storing and chain:
            self.refuse(node, "it changes an object other code uses; only your own objects' attributes may be set "
                        "(self.x = ..., ctx.x = ...)")

    def dotted(self, node: ast.Attribute, parts: list[str], storing: bool) -> None:
        """A dotted name from an import: an entry of the list, then methods of the list; nothing of a module set."""
        if storing:
            self.refuse(node, "it changes a module that other code uses")
            return
        depth = next((d for d in range(len(parts), 0, -1) if ".".join(parts[:d]) in allowed.MODULE_FUNCTIONS), 0)
        if depth == 0:
            module = next((".".join(parts[:d]) for d in range(len(parts), 0, -1)
                           if ".".join(parts[:d]) in allowed.MODULES), parts[0])
            reason = DUNDER if any(is_dunder(p) for p in parts) else NOT_LISTED_MODULE.format(module=allowed.module_list(module))
            written, path = ast.unparse(node), ".".join(parts)
            self.refuse(node, reason if written == path else f"that is {path}, and {reason}")
            return
        self.values(node, parts[depth:], storing=False)

    # Classes.

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if not self.is_allowed_base(base):
                self.refuse(base, f"a class of your own may derive only from {allowed.listed(allowed.BASES)} or "
                            "another class of yours")
        for keyword in node.keywords:
            self.refuse(keyword.value, "a class of your own takes no keywords (no metaclass)",
                        f"{keyword.arg}={ast.unparse(keyword.value)}")
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_dunder(statement.name) \
                    and statement.name not in allowed.SPECIAL_METHODS:
                self.refuse(statement, f"a class of your own may define only the special methods "
                            f"{allowed.listed(allowed.SPECIAL_METHODS)}", f"def {statement.name}")
        super().visit_ClassDef(node)

    def is_allowed_base(self, base: ast.expr) -> bool:
        """Whether ``base`` is a base class the list allows, or a class of the student's own."""
        parts, root = [], base
        while isinstance(root, ast.Attribute):
            parts.insert(0, root.attr)
            root = root.value
        if not isinstance(root, ast.Name) or self.is_bound(root.id):
            return False
        if not parts and (self.court.classes.of_name(root.id) is not None or
                          (root.id == "object" and root.id not in self.court.bindings)):
            return True
        paths = self.court.imports(root.id) or []
        return bool(paths) and all(".".join([path, *parts]) in allowed.BASES for path in paths)
