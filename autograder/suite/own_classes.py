"""Classes of the student's own in a Part 3 program: what their objects and they themselves are known to hold.

An attribute of a value is judged against the list, whatever the value; an attribute of an object of
the student's own class may also be what that class defines or sets. So the judge must know when a
name holds such an object, and Python says so in fewer places than it seems: a method fetched from
its class (``Ops.act``, ``Outer.Inner.act``, an alias in the class body, a name on the list reached
from any value, ``ops().to``) can be called with any object as ``self``; a decorator can replace a
class; ``self`` can be rebound; a staticmethod has no ``self``, and ``forward``'s first parameter is
no context where ``setup_context`` is defined. Here a name holds an object of the student's class C
only where it must:

- ``self``: the first parameter of an undecorated (or ``@property``) method of C, an undecorated
  class, where the method's name is not on the list, is not read in C's body, is reached nowhere but
  as ``self.name`` or ``C(...).name``, and the method never rebinds that parameter;
- ``cls``: the first parameter of a ``@classmethod`` of C (Python binds it to the class however the
  method is reached), where the method never rebinds it;
- ``ctx``: the first parameter of ``forward``/``backward``/``setup_context`` of C deriving from
  ``torch.autograd.Function``, staticmethods autograd calls with a context of its own, where nothing
  reaches them by name and ``forward`` has a context (no ``setup_context``);
- ``C`` itself, a module-level name bound only to undecorated classes of the student's.

What such an object holds: what C's body (or its own ancestors') defines, what its methods set on it
where no base class of PyTorch's or Python's has that name, and the list's methods.
"""

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from autograder.boundary.program import class_level_names
from autograder.suite import allowed

CONTEXT_METHODS = frozenset({"forward", "backward", "setup_context", "jvp", "vjp", "vmap"})
FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@functools.cache
def base_types() -> dict[str, type]:
    """The classes a class of the student's own may derive from (``allowed.BASES``), by dotted name."""
    import torch

    return {"torch.autograd.Function": torch.autograd.Function, "torch.nn.Module": torch.nn.Module, "object": object}


@functools.cache
def context_types() -> tuple[type, ...]:
    """What autograd gives ``forward`` and ``backward`` as their context."""
    import torch

    return torch.autograd.function.FunctionCtx, torch.autograd.function.BackwardCFunction


@dataclass
class OwnClass:
    """One undecorated class of the student's own."""

    node: ast.ClassDef
    bases: list[type] = field(default_factory=list)  # its bases that are not the student's, as Python classes
    parents: list["OwnClass"] = field(default_factory=list)  # its bases that are
    defined: set[str] = field(default_factory=set)  # what its body binds: methods, class attributes
    on_self: set[str] = field(default_factory=set)  # what its methods set on a trusted ``self``
    on_context: set[str] = field(default_factory=set)  # what its autograd methods set on a trusted ``ctx``

    def lineage(self) -> list["OwnClass"]:
        """This class and its own ancestors."""
        found, waiting = [], [self]
        while waiting:
            own = waiting.pop()
            if own not in found:
                found.append(own)
                waiting += own.parents
        return found

    @property
    def name(self) -> str:
        return self.node.name

    def derives_from(self, kind: type) -> bool:
        return any(kind in own.bases for own in self.lineage())

    def class_attributes(self) -> set[str]:
        """What the class itself holds of the student's doing."""
        return set().union(*(own.defined for own in self.lineage()))

    def instance_attributes(self) -> set[str]:
        """What an object of the class holds of the student's doing: defined by a class, or set on ``self`` under a
        name no base class of theirs already has (which an object never set would reach instead)."""
        bases = [base for own in self.lineage() for base in own.bases]
        stored = set().union(*(own.on_self for own in self.lineage()))
        return self.class_attributes() | {name for name in stored if not any(hasattr(base, name) for base in bases)}

    def context_attributes(self) -> set[str]:
        """What the student sets on autograd's context, under names the context does not already have."""
        stored = set().union(*(own.on_context for own in self.lineage()))
        return {name for name in stored if not any(hasattr(kind, name) for kind in context_types())}


class OwnClasses:
    """The undecorated classes of a program, and which of their methods' first parameters are known to be theirs."""

    def __init__(self, nodes: list[ast.AST], base_path: Callable[[ast.expr], str | None],
                 module_level: dict[str, list[ast.stmt]]) -> None:
        """``nodes``: every node of the program; ``base_path``: the dotted name a base class expression resolves to
        (None where it is no import); ``module_level``: the program's module-level bindings by name."""
        self.module_level = module_level
        self.by_node = {id(node): OwnClass(node) for node in nodes
                        if isinstance(node, ast.ClassDef) and not node.decorator_list}
        for own in self.by_node.values():
            for base in own.node.bases:
                parent = self.of_name(base.id) if isinstance(base, ast.Name) else None
                if parent is not None:
                    own.parents.append(parent)
                elif (path := base_path(base)) in base_types():
                    own.bases.append(base_types()[path])
            own.defined = {target for statement in own.node.body for target in class_level_names(statement)}
        # The first parameters of methods that may hold the student's own object: reaching a method as
        # ``<one of these>.name`` keeps it the student's; any other way to reach it by name may pass it anything.
        firsts = {first_parameter(method) for own in self.by_node.values() for method in own.node.body
                  if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and not method.decorator_list}
        self.reached_otherwise = {node.attr for node in nodes if isinstance(node, ast.Attribute)
                                  and not (isinstance(node.value, ast.Call)
                                           or isinstance(node.value, ast.Name) and node.value.id in firsts)}
        self.reached_at_all = {node.attr for node in nodes if isinstance(node, ast.Attribute)}
        for own in self.by_node.values():
            for method in own.node.body:
                if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    kind, first = self.receiver(own, method)
                    stored = {n.attr for n in ast.walk(method) if isinstance(n, ast.Attribute)
                              and not isinstance(n.ctx, ast.Load) and isinstance(n.value, ast.Name) and n.value.id == first}
                    (own.on_self if kind == "self" else own.on_context if kind == "ctx" else set()).update(stored)

    def of_name(self, name: str) -> OwnClass | None:
        """The class a module-level ``name`` is bound to, where its one binding is an undecorated class."""
        nodes = self.module_level.get(name, [])
        owns = [self.by_node.get(id(node)) for node in nodes]
        return owns[0] if len(owns) == 1 and owns[0] is not None else None

    def receiver(self, own: OwnClass, method: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str | None, str | None]:
        """What the first parameter of ``method`` of ``own`` is known to hold: ``("self", name)``, ``("class", name)``,
        ``("ctx", name)``, or ``(None, name)`` where nothing is known of it."""
        first = first_parameter(method)
        if first is None or rebinds(method, first):
            return None, first
        decorators = [d.id if isinstance(d, ast.Name) else None for d in method.decorator_list]
        if decorators == ["classmethod"]:
            return "class", first
        named_in_body = method.name in loaded_at_class_level(own.node)
        if decorators in ([], ["property"]) and not named_in_body and method.name not in allowed.VALUE_ATTRIBUTES \
                and method.name not in self.reached_otherwise:
            return "self", first
        import torch

        has_context = method.name != "forward" or "setup_context" not in own.class_attributes()
        if decorators == ["staticmethod"] and own.derives_from(torch.autograd.Function) and has_context \
                and method.name in CONTEXT_METHODS and not named_in_body and method.name not in self.reached_at_all:
            return "ctx", first
        return None, first


def first_parameter(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    arguments = [*function.args.posonlyargs, *function.args.args]
    return arguments[0].arg if arguments else None


def loaded_at_class_level(node: ast.ClassDef) -> set[str]:
    """The names a class body reads where the class's own names are visible (an alias ``run = act``, a decorator
    ``@act.setter``, a default): everything but the bodies of its functions."""
    names = set()
    stack: list[ast.AST] = list(node.body)
    while stack:
        inner = stack.pop()
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
            names.add(inner.id)
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += [*inner.decorator_list, *inner.args.defaults, *(d for d in inner.args.kw_defaults if d)]
        elif isinstance(inner, ast.Lambda):
            stack += [*inner.args.defaults, *(d for d in inner.args.kw_defaults if d)]
        else:
            stack += list(ast.iter_child_nodes(inner))
    return names


def rebinds(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether anything in ``function`` (nested scopes too, to be safe) may bind ``name`` again."""
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return True
        if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name == name:
            return True
        if isinstance(node, ast.MatchMapping) and node.rest == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not function \
                and node.name == name:
            return True
    return False


def allows(own: OwnClass, kind: str, chain: list[str]) -> bool:
    """Whether an object of ``own`` held as ``kind`` (``"self"``, ``"ctx"`` or ``"class"``) may be asked for the first
    attribute of ``chain`` (the rest are judged as any value's)."""
    first = chain[0]
    if first == "__class__":  # only to read the class's name: self.__class__.__name__
        return kind == "self" and chain[1:] == ["__name__"]
    known = {"self": own.instance_attributes, "ctx": own.context_attributes, "class": own.class_attributes}[kind]()
    return first in known or first in allowed.VALUE_ATTRIBUTES
