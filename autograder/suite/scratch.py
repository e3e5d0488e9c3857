"""Whether an activation is written from elementary operations, judged by the grader from the notebook's source.

The grader reads each notebook once, before any student code runs, and judges that copy
(the same cells every worker runs). Starting at the activation's ``def``, it follows every
name the code uses that the notebook defines (functions, classes, imports and their
aliases), transitively, and adds what the notebook runs when it is loaded (decorators,
default values, annotations, class bodies): all the code that can run in the worker that
checks the activation, where no other graded function runs. In that code:

- no dynamic mechanism: ``getattr`` and its kin, ``eval``/``exec``/``compile``, imports inside
  functions or of every name (``*``), ``global``, dunder attributes, private ones
  (``torch._C``), names that are not defined anywhere;
- every dotted name resolves statically, inside an allow list of namespaces (``torch``,
  ``torch.autograd``, ``math``, ``numpy``, ``typing``) and never to one of PyTorch's own
  activations (``torch.sigmoid``, ``z.relu()``, ``math.tanh``, ``torch.rrelu``, a loss built
  on one, ...); ``torch.nn``, ``torch.nn.functional``, ``torch.special`` and every other
  namespace are refused, because they hold activations under many names;
- nothing changes a module (``torch.exp = ...``).

An allow list of namespaces, not a deny list of spellings: a deny list is only as good as
the names someone thought of, and PyTorch adds namespaces every release. Code the rules
cannot follow is refused with the construct, the line and the reason; a student then
writes the plain calls Part 3 asks for.
"""

import ast
import builtins
import functools
import importlib
import inspect
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

from autograder.boundary.notebook import Cell, definitions

# The namespaces whose names an activation may use, and single objects of other namespaces.
ALLOWED_MODULES = frozenset({"torch", "torch.autograd", "math", "numpy", "typing"})
ALLOWED_OBJECTS = frozenset({"torch.nn.Module", "torch.nn.Parameter"})
# What names PyTorch's own activations, anywhere within a longer name ("log_softmax", "Softmax2d",
# "binary_cross_entropy_with_logits"), and the functions with one built in: losses, recurrent cells
# (an LSTM's gates are sigmoids and tanhs), attention (a softmax).
ACTIVATION_WORDS = frozenset({
    "sigmoid", "expit", "tanh", "softmax", "softmin", "relu", "elu", "glu", "mish", "softplus", "softsign",
    "hardswish", "shrink", "threshold", "logits", "loss", "lstm", "gru", "rnn", "attention",
})
# Names that reach code or objects the grader cannot see: by name, by string, or from a file.
DYNAMIC = frozenset({
    "getattr", "setattr", "delattr", "hasattr", "eval", "exec", "compile", "globals", "locals", "vars", "dir",
    "import_module", "reload", "load", "loads", "loadtxt", "genfromtxt", "fromfile", "get_type_hints",
    "ForwardRef", "breakpoint", "open", "input", "memoryview", "type",
})
# Built-in functions and types an activation may use.
ALLOWED_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "callable", "complex", "format", "object", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "pow", "print", "range",
    "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "super", "staticmethod",
    "classmethod", "property", "NotImplemented", "Ellipsis",
    *(name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)),
})
# Methods that hook into PyTorch's dispatch, which would see and answer every call in the worker.
HOOKS = frozenset({"__torch_function__", "__torch_dispatch__"})
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
SHOWN_LENGTH = 60
# The most code of a notebook the grader judges (an honest one holds a few kB; parsing costs some hundred
# bytes of memory per byte of code), and the most refusals it lists.
MAX_CODE_CHARS = 256 * 1024
MAX_REFUSALS = 20
HINT = "Part 3 asks for plain calls of elementary operations (torch.exp, torch.where, arithmetic, ...)."


@dataclass(frozen=True)
class Refusal:
    """One construct the rules refuse, where it is, and why."""

    construct: str  # as written, shortened: "getattr(...)", "torch.nn.functional.relu"
    cell: str  # the cell's name, as messages name cells
    line: int  # within the cell
    reason: str
    via: str = ""  # the chain of the notebook's functions that leads to it: "tanh -> sigmoid"; "" when loading

    def message(self, name: str) -> str:
        """The refusal in the student's terms, for the activation ``name``."""
        found = f"`{self.construct}` on line {self.line} of {self.cell}: {self.reason}"
        if not self.via:
            return f"{name} cannot be judged: when the notebook is loaded it runs {found}. {HINT}"
        if self.via.startswith("class "):
            return f"{name} cannot be judged: the notebook's {self.via} uses {found}. {HINT}"
        chain = self.via.split(" -> ")
        who = name if len(chain) == 1 else f"{name} calls {' -> '.join(chain[1:])}, which"
        return f"{who} uses {found}. {HINT}"


@dataclass(frozen=True)
class Binding:
    """What a top-level statement the loader runs binds a name to."""

    node: ast.stmt | ast.alias
    cell: Cell
    qualified: str = ""  # for imports: the dotted name of what is bound ("torch.nn.functional")


@dataclass
class NotebookCode:
    """A notebook's definitions as the loader runs them: each name's bindings in order, and what runs at load."""

    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    statements: list[tuple[ast.stmt, Cell]] = field(default_factory=list)
    future_annotations: bool = False


@functools.lru_cache(maxsize=2)
def notebook_code(cells: tuple[Cell, ...]) -> NotebookCode:
    """The top-level definitions of ``cells`` (cells that do not parse are skipped, as the loader skips them);
    parsed once for the four activations."""
    code = NotebookCode()
    for cell in cells:
        try:
            statements = definitions(cell)
        except SyntaxError:
            continue
        for statement in statements:
            code.statements.append((statement, cell))
            for name, binding in bound_at_top(statement, cell):
                code.bindings.setdefault(name, []).append(binding)
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                code.future_annotations |= any(alias.name == "annotations" for alias in statement.names)
    return code


def bound_at_top(statement: ast.stmt, cell: Cell) -> Iterator[tuple[str, Binding]]:
    """The names a top-level statement binds, with what it binds them to."""
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            qualified = alias.name if alias.asname else alias.name.split(".")[0]
            yield alias.asname or alias.name.split(".")[0], Binding(alias, cell, qualified)
    elif isinstance(statement, ast.ImportFrom):
        for alias in statement.names:
            qualified = f"{'.' * statement.level}{statement.module or ''}.{alias.name}"
            yield alias.asname or alias.name, Binding(alias, cell, qualified)
    elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name, Binding(statement, cell)
    elif isinstance(statement, ast.Assign):
        for target in statement.targets:
            yield target.id, Binding(statement, cell)
    elif isinstance(statement, ast.AnnAssign):
        yield statement.target.id, Binding(statement, cell)


def live_bindings(bindings: list[Binding]) -> list[Binding]:
    """The bindings of one name that may be the one grading sees: the last, and earlier ones while the later
    ones might fail to run (a decorator or default that raises leaves the earlier definition in place)."""
    live = []
    for binding in reversed(bindings):
        live.append(binding)
        if surely_binds(binding.node):
            break
    return live


def untouched_stub(cells: list[Cell], name: str, cell_filename: str) -> bool:
    """Whether the top-level ``name`` that loading ``cells`` may leave is always a function of the cell
    ``cell_filename``, without decorators, whose body (its docstring aside) is only ``raise NotImplementedError()``:
    a stub that fails every call, whatever it is given. Read from the source, in the grader."""
    live = live_bindings(notebook_code(tuple(cells)).bindings.get(name, []))
    return any(binding.cell.filename == cell_filename for binding in live) and all(
        only_raises_not_implemented(binding.node) for binding in live)


def only_raises_not_implemented(node: ast.stmt | ast.alias) -> bool:
    """Whether ``node`` is an undecorated function whose body, but for a docstring, is ``raise NotImplementedError()``."""
    if not isinstance(node, ast.FunctionDef) or node.decorator_list:
        return False
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].cause is not None:
        return False
    raised = body[0].exc
    if isinstance(raised, ast.Call) and not raised.args and not raised.keywords:
        raised = raised.func
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def surely_binds(node: ast.stmt | ast.alias) -> bool:
    """Whether running a top-level statement cannot fail and leave an earlier binding in place: no decorator, and
    only literals, names and dotted names evaluated (a name that does not resolve is refused anyway)."""
    if isinstance(node, (ast.alias, ast.Assign, ast.AnnAssign)):
        return True
    if node.decorator_list:
        return False
    if isinstance(node, ast.ClassDef):
        evaluated = node.bases + [keyword.value for keyword in node.keywords]
        body_runs_nothing = all(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass))
            or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in node.body)
        if not body_runs_nothing:
            return False
    else:
        arguments = node.args
        evaluated = arguments.defaults + [d for d in arguments.kw_defaults if d is not None]
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        evaluated += [a.annotation for a in every if a is not None and a.annotation is not None]
        evaluated += [node.returns] if node.returns is not None else []
    return all(is_plain(expression) for expression in evaluated)


def is_plain(expression: ast.expr) -> bool:
    """A literal, a name or a dotted name: evaluating it calls nothing."""
    if isinstance(expression, ast.Attribute):
        return is_plain(expression.value)
    return isinstance(expression, ast.Name) or is_literal_expression(expression)


def is_literal_expression(expression: ast.expr) -> bool:
    try:
        ast.literal_eval(expression)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def refusals(cells: list[Cell], name: str) -> list[Refusal]:
    """Every construct in the code that can run while ``name`` is checked that the rules refuse; empty when
    ``name`` is written from elementary operations (or is not defined: its checks say so)."""
    size = sum(len(cell.source) for cell in cells)
    if size > MAX_CODE_CHARS:
        first = cells[0].filename if cells else "the notebook"
        return [Refusal(f"{size // 1024} kB of code", first, 1,
                        f"the notebook holds more than {MAX_CODE_CHARS // 1024} kB of code, more than the grader "
                        "reads to judge it; clear what Part 3 does not need", "")]
    code = notebook_code(tuple(cells))
    judge = Judge(code)
    for statement, cell in code.statements:
        judge.at_load(statement, cell)
    for binding in live_bindings(code.bindings.get(name, [])):
        if isinstance(binding.node, ast.alias):
            judge.qualified(binding.qualified, binding.node, binding.cell, name, f"import {binding.qualified}")
        else:
            judge.follow(binding, name)
    return judge.refused


class Judge:
    """Walks the code that can run, scope by scope, collecting refusals."""

    def __init__(self, code: NotebookCode) -> None:
        self.code = code
        self.found: dict[Refusal, None] = {}  # in the order found; a dict, so that a repeat costs nothing
        self.followed: set[int] = set()

    @property
    def refused(self) -> list[Refusal]:
        return list(self.found)

    def refuse(self, node: ast.AST, cell: Cell, via: str, reason: str, construct: str | None = None) -> None:
        if len(self.found) >= MAX_REFUSALS:
            return
        shown = construct if construct is not None else ast.unparse(node)
        shown = shown if len(shown) <= SHOWN_LENGTH else shown[:SHOWN_LENGTH - 1] + "…"
        self.found.setdefault(Refusal(shown, cell.filename, getattr(node, "lineno", 0), reason, via))

    # What runs when the notebook is loaded.

    def at_load(self, statement: ast.stmt, cell: Cell) -> None:
        """The parts of a top-level statement that run when the notebook is loaded."""
        if isinstance(statement, ast.ImportFrom) and any(alias.name == "*" for alias in statement.names):
            self.refuse(statement, cell, "", "the grader cannot tell which names it brings")
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for expression in self.evaluated_at_definition(statement):
                Scope(self, cell, "", None).expression(expression)
        elif isinstance(statement, ast.ClassDef):
            # A class's methods can run as it is made (a metaclass, __init_subclass__, __set_name__) or whenever
            # one of its objects is used: every class of the notebook is judged whole.
            self.class_at_load(statement, cell, f"class {statement.name}", None)
        elif isinstance(statement, ast.AnnAssign) and not self.code.future_annotations:
            Scope(self, cell, "", None).expression(statement.annotation)  # evaluated as the line runs

    def evaluated_at_definition(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
        """What a ``def`` evaluates where it stands: decorators, defaults, annotations (unless postponed)."""
        arguments = function.args
        evaluated = [*getattr(function, "decorator_list", []), *arguments.defaults,
                     *(d for d in arguments.kw_defaults if d is not None)]
        if not self.code.future_annotations and not isinstance(function, ast.Lambda):
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            evaluated += [a.annotation for a in every if a is not None and a.annotation is not None]
            evaluated += [function.returns] if function.returns is not None else []
        return evaluated

    def class_at_load(self, node: ast.ClassDef, cell: Cell, via: str, outer: "Scope | None") -> None:
        """A class statement: its decorators, bases and keywords, then its body, which runs as the class is made, with
        the bodies of its methods wherever they stand in it."""
        scope = Scope(self, cell, via, outer)
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            scope.expression(expression)
        Scope(self, cell, via, outer, node).body(node.body)

    # Following the notebook's names.

    def follow(self, binding: Binding, via: str) -> None:
        """Judge a function of the notebook that the code calls, once (classes are judged whole at load)."""
        if isinstance(binding.node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(binding.node) not in self.followed:
            self.followed.add(id(binding.node))
            Scope(self, binding.cell, via, None, binding.node).body(binding.node.body)

    def global_name(self, name: str, node: ast.AST, cell: Cell, via: str) -> None:
        """A name no enclosing function binds: the notebook's, or a built-in."""
        bindings = self.code.bindings.get(name)
        if bindings:
            for binding in live_bindings(bindings):
                if isinstance(binding.node, ast.alias):
                    self.qualified(binding.qualified, node, cell, via, name)
                else:
                    self.follow(binding, f"{via} -> {name}" if via else name)
        elif name in DYNAMIC or name.startswith("__"):
            self.refuse(node, cell, via, "the grader cannot tell what that reaches", f"{name}(...)")
        elif name not in ALLOWED_BUILTINS:
            reason = (f"`{name}` is not an elementary operation the grader knows" if hasattr(builtins, name)
                      else f"`{name}` is not defined at the top level of the notebook")
            self.refuse(node, cell, via, reason, name)

    def qualified(self, path: str, node: ast.AST, cell: Cell, via: str, shown: str) -> None:
        """A dotted name that starts at an import: it must resolve inside the allowed namespaces, to no activation,
        and to no module (a module held as a value, ``m = torch``, leads wherever its attributes do)."""
        parts = path.split(".")
        alias = f"that is {path}, and " if shown != path and not shown.startswith("import ") else ""
        if path.startswith(".") or parts[0] not in {m.split(".")[0] for m in ALLOWED_MODULES}:
            self.refuse(node, cell, via, alias + f"the grader only follows names of {', '.join(sorted(ALLOWED_MODULES))}",
                        shown)
            return
        allowed = next((depth for depth in range(len(parts), 1, -1) if ".".join(parts[:depth]) in ALLOWED_OBJECTS), 0)
        if allowed:
            for part in parts[allowed:]:
                problem = attribute_problem(part)
                if problem is not None:
                    self.refuse(node, cell, via, alias + problem, shown)
                    return
            return
        value: object = importlib.import_module(parts[0])
        for depth, part in enumerate(parts[1:], start=2):
            prefix = ".".join(parts[:depth])
            problem = attribute_problem(part)
            if problem is not None:
                self.refuse(node, cell, via, alias + problem, shown)
                return
            try:
                value = inspect.getattr_static(value, part)
            except AttributeError:
                self.refuse(node, cell, via, alias + f"{prefix} does not exist in the installed PyTorch", shown)
                return
            if isinstance(value, types.ModuleType) and prefix not in ALLOWED_MODULES:
                self.refuse(node, cell, via, alias + f"{prefix} holds PyTorch's own activations under many names; "
                            "use torch's elementary functions instead", shown)
                return
        if isinstance(value, types.ModuleType):
            self.refuse(node, cell, via, alias + "a module held as a value leads wherever its attributes do; "
                        "use its functions by their dotted names", shown)


def is_activation(name: str) -> bool:
    """Whether a function or method of that name is one of PyTorch's activations, or built on one."""
    lowered = name.lower()
    return any(word in lowered for word in ACTIVATION_WORDS)


def attribute_problem(name: str) -> str | None:
    """Why an attribute of that name may not be used, whatever it belongs to; None if it may."""
    if name.startswith("__") and name.endswith("__"):
        return "the grader cannot tell what a dunder attribute reaches"
    if name.startswith("_"):
        return "it reaches PyTorch's internals"
    if name in DYNAMIC:
        return "the grader cannot tell what that reaches"
    if is_activation(name):
        return f"`{name}` is one of PyTorch's own activations, or is built on one"
    return None


class Scope(ast.NodeVisitor):
    """One function, lambda, comprehension or class body: which names it binds, and a walk of its code."""

    def __init__(self, judge: Judge, cell: Cell, via: str, outer: "Scope | None", node: ast.AST | None = None) -> None:
        self.judge, self.cell, self.via, self.outer, self.node = judge, cell, via, outer, node
        self.local = bound_in(node) if node is not None else set()
        self.is_class = isinstance(node, ast.ClassDef)

    def refuse(self, node: ast.AST, reason: str, construct: str | None = None) -> None:
        self.judge.refuse(node, self.cell, self.via, reason, construct)

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.visit(statement)

    def expression(self, expression: ast.expr) -> None:
        self.visit(expression)

    def is_bound(self, name: str, class_names: bool = True) -> bool:
        """Whether ``name`` is this scope's or an enclosing function's (a class body's names are not its methods');
        without ``class_names``, a name this class body binds does not count."""
        if name in self.local and (class_names or not self.is_class):
            return True
        scope = self.outer
        while scope is not None:
            if not scope.is_class and name in scope.local:
                return True
            scope = scope.outer
        return False

    # Names and attributes.

    def visit_Name(self, node: ast.Name) -> None:
        # A class body looks a name up as it runs: one it assigns later is still the global one before that.
        if isinstance(node.ctx, ast.Load) and not self.is_bound(node.id, class_names=not self.is_class):
            self.judge.global_name(node.id, node, self.cell, self.via)
        elif node.id in HOOKS:
            self.refuse(node, "it hooks into PyTorch's dispatch, where it can answer any call in its place")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.insert(0, root.attr)
            root = root.value
        if not isinstance(node.ctx, ast.Load) and self.is_module(root):
            self.refuse(node, "it changes a module that other code uses")
        if isinstance(root, ast.Name) and not self.is_bound(root.id) and self.is_import(root.id):
            for binding in live_bindings(self.judge.code.bindings[root.id]):
                self.judge.qualified(".".join([binding.qualified, *chain]), node, self.cell, self.via,
                                     ast.unparse(node))
            return
        for attribute in chain:
            problem = attribute_problem(attribute)
            allowed = (attribute == "__init__" and isinstance(root, ast.Call) and
                       isinstance(root.func, ast.Name) and root.func.id == "super")
            if problem is not None and not allowed:
                self.refuse(node, problem, ast.unparse(node))
                break
        self.visit(root)

    def is_import(self, name: str) -> bool:
        bindings = self.judge.code.bindings.get(name, [])
        return bool(bindings) and all(isinstance(b.node, ast.alias) for b in live_bindings(bindings))

    def is_module(self, root: ast.expr) -> bool:
        return isinstance(root, ast.Name) and not self.is_bound(root.id) and self.is_import(root.id)

    # Statements the rules refuse outright.

    def visit_Global(self, node: ast.Global) -> None:
        self.refuse(node, "it changes the notebook's own names while grading runs", f"global {', '.join(node.names)}")

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.refuse(node, "imports belong at the top of the notebook, where the grader can follow them")

    visit_ImportFrom = visit_Import

    # Nested scopes: what the enclosing scope evaluates, then the new scope's own code.

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in HOOKS:
            self.refuse(node, "it hooks into PyTorch's dispatch, where it can answer any call in its place",
                        f"def {node.name}")
        for expression in self.judge.evaluated_at_definition(node):
            self.visit(expression)
        Scope(self.judge, self.cell, self.via, self, node).body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in self.judge.evaluated_at_definition(node):
            self.visit(expression)
        Scope(self.judge, self.cell, self.via, self, node).expression(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.judge.class_at_load(node, self.cell, self.via, self)

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        # The first iterable is evaluated in the enclosing scope; the rest in the comprehension's own.
        self.visit(node.generators[0].iter)
        inner = Scope(self.judge, self.cell, self.via, self, node)
        for index, generator in enumerate(node.generators):
            if index:
                inner.visit(generator.iter)
            for condition in generator.ifs:
                inner.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                inner.visit(getattr(node, part))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension


def bound_in(scope: ast.AST) -> set[str]:
    """The names a function, lambda, comprehension or class body binds itself (Python's rule: bound anywhere in
    the scope, nested scopes aside, unless declared nonlocal; a walrus in a comprehension binds outside it)."""
    bound: set[str] = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = scope.args
        bound |= {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                  arguments.vararg, arguments.kwarg] if a is not None}
        roots: list[ast.AST] = [scope.body] if isinstance(scope, ast.Lambda) else list(scope.body)
    elif isinstance(scope, ast.ClassDef):
        roots = list(scope.body)
    else:  # a comprehension: its targets
        return {n.id for g in scope.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
    nonlocal_names: set[str] = set()
    stack = roots
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack += [*node.decorator_list, *getattr(node, "bases", []), *(k.value for k in getattr(node, "keywords", []))]
            if not isinstance(node, ast.ClassDef):
                stack += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            continue
        elif isinstance(node, ast.Lambda):
            stack += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            continue
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.append(node.generators[0].iter)
            bound |= {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}
            continue
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, ast.Nonlocal):
            nonlocal_names |= set(node.names)
        stack += list(ast.iter_child_nodes(node))
    return bound - nonlocal_names
