"""What runs when a graded name is checked on how it is written: its program, read once from the notebook.

A notebook's *definitions* are the top-level statements the loader runs (imports, ``def``,
``class``, ``NAME = <literal>``; see ``notebook.is_definition``). The *program* of a graded name
is the definitions it needs: every definition that binds the name, then every definition that
binds a name those use, transitively, in the notebook's order. The grader builds it from the
cells it read before any student code ran, the judge (``autograder/suite/scratch.py``) reads
exactly its statements, every binding of each name among them, and the worker that checks the
name is sent those statements and runs no other (``Cell.only``): the code judged is the code
that runs, in the same units (one statement at a time), order and compile flags (none: each
statement is compiled on its own, so ``from __future__ import annotations`` changes nothing and
annotations run where they stand).

Names are resolved as Python resolves them (``ScopeWalk``): a name a function, lambda,
comprehension or class body binds is its own; any other is the module's, the notebook's or a
built-in.
"""

import ast
import builtins
import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from autograder.boundary.notebook import Cell, definitions, parsed, selected_definitions
from autograder.contract import GRADED_NAMES, NOTEBOOK_OF

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Statement:
    """One top-level definition: its cell, its place among the cell's definitions, and its syntax."""

    cell: Cell
    index: int
    node: ast.stmt


@dataclass
class Definitions:
    """A notebook's definitions as the loader runs them, and what else its top level binds.

    ``bindings``: each name's binding statements, in order. ``not_loaded``: names only statements
    the loader does not run assign (``EPS = 1 / 3``). ``unparsed``: the cells that do not parse, with
    the line and the error, which the loader skips.
    """

    statements: list[Statement] = field(default_factory=list)
    bindings: dict[str, list[Statement]] = field(default_factory=dict)
    not_loaded: set[str] = field(default_factory=set)
    unparsed: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def notebook_definitions(cells: tuple[Cell, ...]) -> Definitions:
    """The definitions of ``cells`` (a cell that does not parse is skipped, as the loader skips it)."""
    found = Definitions()
    for cell in cells:
        try:
            module, loaded = parsed(cell.filename, cell.source), definitions(cell)
        except SyntaxError as error:
            found.unparsed.append(f"{cell.filename} has a syntax error on line {error.lineno}: {error.msg}")
            continue
        for index, node in enumerate(loaded):
            statement = Statement(cell, index, node)
            found.statements.append(statement)
            for name in bound_at_top(node):
                found.bindings.setdefault(name, []).append(statement)
        for node in module.body:
            if not any(node is definition for definition in loaded):
                found.not_loaded |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    found.not_loaded -= set(found.bindings)
    return found


def bound_at_top(node: ast.stmt) -> set[str]:
    """The module-level names a top-level definition binds: what it names, and what its code may bind there (a walrus
    evaluated at module level, a ``global`` declaration)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names = {node.name}
    elif isinstance(node, ast.Assign):
        names = {target.id for target in node.targets}
    else:  # AnnAssign
        names = {node.target.id}
    for inner in ast.walk(node):
        if isinstance(inner, ast.Global):
            names |= set(inner.names)
        elif isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
            names.add(inner.target.id)  # at module level or not: either way the program must hold it
    return names


def program(cells: list[Cell], name: str) -> list[Cell]:
    """The program of the graded ``name``: the cells holding a statement of it, each with ``only`` set to those
    statements' places, in the notebook's order; and the cells that do not parse, with nothing to run, so that the
    worker says of each that it has a syntax error (what the name lacks may be there)."""
    chosen = dict(program_places(tuple(cells), name))
    unparsed = {cell.filename for cell in cells if not parses(cell)}
    return [Cell(cell.filename, cell.source, tuple(chosen.get(cell, ()))) for cell in cells
            if cell in chosen or cell.filename in unparsed]


def parses(cell: Cell) -> bool:
    try:
        parsed(cell.filename, cell.source)
    except SyntaxError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def program_places(cells: tuple[Cell, ...], name: str) -> tuple[tuple[Cell, tuple[int, ...]], ...]:
    chosen = {id(s.node): s for s in closure(notebook_definitions(cells), name)}
    by_cell: dict[Cell, list[int]] = {}
    for statement in notebook_definitions(cells).statements:
        if id(statement.node) in chosen:
            by_cell.setdefault(statement.cell, []).append(statement.index)
    return tuple((cell, tuple(indices)) for cell, indices in by_cell.items())


def closure(found: Definitions, name: str) -> list[Statement]:
    """Every binding of ``name``, and of each name they use, transitively (see the module's docstring)."""
    chosen: dict[int, Statement] = {}
    waiting, seen = [name], {name}
    while waiting:
        for statement in found.bindings.get(waiting.pop(), []):
            if id(statement.node) in chosen:
                continue
            chosen[id(statement.node)] = statement
            for used in UsedNames.of(statement.node):
                if used not in seen:
                    seen.add(used)
                    waiting.append(used)
    return list(chosen.values())


def graded_names_used(cells: list[Cell], name: str) -> list[str]:
    """The other graded names of ``name``'s notebook that its program holds (``train_linear_regression`` calls
    ``loss_fn``; ``tanh`` calls ``sigmoid``), in the notebook's order."""
    bound = {bound for statement in closure(notebook_definitions(tuple(cells)), name) for bound in bound_at_top(statement.node)}
    return [graded for graded in GRADED_NAMES.get(NOTEBOOK_OF.get(name, ""), {}) if graded in bound and graded != name]


def program_statements(cells: list[Cell]) -> Iterator[Statement]:
    """The statements of a program as its worker runs them: each cell's selected definitions, in order (a cell that
    does not parse runs nothing)."""
    for cell in cells:
        if parses(cell):
            for index, node in selected_definitions(cell):
                yield Statement(cell, index, node)


def evaluated_at_definition(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
    """What a ``def`` or ``lambda`` evaluates where it stands: decorators, defaults and annotations (each statement is
    compiled on its own, so no ``from __future__`` postpones them)."""
    arguments = function.args
    evaluated = [*getattr(function, "decorator_list", []), *arguments.defaults,
                 *(default for default in arguments.kw_defaults if default is not None)]
    if not isinstance(function, ast.Lambda):
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        evaluated += [a.annotation for a in every if a is not None and a.annotation is not None]
        evaluated += [function.returns] if function.returns is not None else []
    return evaluated


def bound_in(scope: ast.AST) -> set[str]:
    """The names a function, lambda, comprehension or class body binds itself (Python's rule: bound anywhere in the
    scope, nested scopes aside, unless declared ``nonlocal`` or ``global``; a walrus in a comprehension binds outside
    it)."""
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
    declared: set[str] = set()
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
        elif isinstance(node, COMPREHENSIONS):
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
        elif isinstance(node, (ast.Nonlocal, ast.Global)):
            declared |= set(node.names)
        stack += list(ast.iter_child_nodes(node))
    return bound - declared


class ScopeWalk(ast.NodeVisitor):
    """A walk of a top-level statement's code, scope by scope, knowing for each name whether an enclosing function
    binds it. A subclass hears of every other name through ``global_name``; the walk of a nested scope is a copy of
    the walk of its enclosing one (``inner``), so a subclass's state carries over."""

    def __init__(self) -> None:
        self.outer: ScopeWalk | None = None
        self.node: ast.AST | None = None  # None: the module's own scope
        self.local: set[str] = set()
        self.is_class = False
        # In a class body: the names it has bound so far, which it finds in its own namespace as it runs.
        self.bound_so_far: set[str] = set()

    def inner(self, node: ast.AST) -> "ScopeWalk":
        """The walk of the scope ``node`` opens inside this one."""
        walk = copy.copy(self)
        walk.outer, walk.node, walk.local, walk.is_class = self, node, bound_in(node), isinstance(node, ast.ClassDef)
        walk.bound_so_far = set()
        return walk

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

    def global_name(self, node: ast.Name) -> None:
        """A name no enclosing function binds, as it is loaded: the notebook's, or a built-in."""

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.visit(statement)
            if self.is_class:
                self.bound_so_far |= class_level_names(statement)

    def visit_Name(self, node: ast.Name) -> None:
        # A class body looks a name up as it runs: its own namespace holds what it bound before that line; a name it
        # binds only later is still the global one there.
        if self.is_class and node.id in self.bound_so_far:
            return
        if isinstance(node.ctx, ast.Load) and not self.is_bound(node.id, class_names=not self.is_class):
            self.global_name(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expression in evaluated_at_definition(node):
            self.visit(expression)
        self.inner(node).body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in evaluated_at_definition(node):
            self.visit(expression)
        self.inner(node).visit(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expression)
        self.inner(node).body(node.body)

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        # The first iterable is evaluated in the enclosing scope; the rest in the comprehension's own.
        self.visit(node.generators[0].iter)
        inner = self.inner(node)
        for index, generator in enumerate(node.generators):
            if index:
                inner.visit(generator.iter)
            for condition in generator.ifs:
                inner.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                inner.visit(getattr(node, part))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension


class UsedNames(ScopeWalk):
    """The module-level names a statement's code loads."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def global_name(self, node: ast.Name) -> None:
        self.found.add(node.id)

    @classmethod
    def of(cls, statement: ast.stmt) -> set[str]:
        walk = cls()
        walk.visit(statement)
        return walk.found


def class_level_names(statement: ast.stmt) -> set[str]:
    """The names a statement of a class body binds in the class (a method's own names are not the class's)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    names = set()
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # under an if or a with of the class body: its name is the class's all the same
        elif not isinstance(node, SCOPES):
            stack += list(ast.iter_child_nodes(node))
    return names


def is_builtin(name: str) -> bool:
    """Whether Python finds ``name`` among its built-ins."""
    return hasattr(builtins, name)
