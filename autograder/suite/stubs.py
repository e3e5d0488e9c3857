"""Whether a graded name is an untouched stub, read by the grader from the source it read itself.

A worker reports that a check failed on a ``raise NotImplementedError()`` of the student's; that report comes from
a process student code ran in, so the grader believes it only where the source says the same: the function the
report names is, in the cell it names, nothing but that ``raise``.
"""

import ast

from autograder.boundary.notebook import Cell
from autograder.boundary.program import Statement, notebook_definitions


def untouched_stub(cells: list[Cell], name: str, cell_filename: str) -> bool:
    """Whether the top-level ``name`` that loading ``cells`` may leave is always a function of the cell
    ``cell_filename``, without decorators, whose body (its docstring aside) is only ``raise NotImplementedError()``:
    a stub that fails every call, whatever it is given."""
    live = live_bindings(notebook_definitions(tuple(cells)).bindings.get(name, []))
    return any(binding.cell.filename == cell_filename for binding in live) and all(
        only_raises_not_implemented(binding.node) for binding in live)


def is_stub_in_source(cells: list[Cell], qualified: str, cell_filename: str) -> bool:
    """Whether the function ``qualified`` (``sgd_step``, ``Model.__init__``) of the cell ``cell_filename`` is, in every
    definition of it there, only ``raise NotImplementedError()``."""
    *classes, function = qualified.split(".")
    nodes = [s.node for s in notebook_definitions(tuple(cells)).statements if s.cell.filename == cell_filename]
    for class_name in classes:
        nodes = [member for node in nodes if isinstance(node, ast.ClassDef) and node.name == class_name
                 for member in node.body]
    found = [node for node in nodes if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function]
    return bool(found) and all(ends_in_not_implemented(node) for node in found)


def ends_in_not_implemented(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether every call of ``node`` ends in its ``raise NotImplementedError()``: its body runs straight (no branch,
    loop, ``return`` or ``with``) to that ``raise``, as a stub whose first lines were given does
    (``super().__init__()``)."""
    *before, last = node.body
    straight = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Pass)
    return (isinstance(last, ast.Raise) and raises_not_implemented(last) and all(isinstance(s, straight) for s in before)
            and not any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for s in before for n in ast.walk(s)))


def live_bindings(bindings: list[Statement]) -> list[Statement]:
    """The bindings of one name that may be the one grading sees: the last, and earlier ones while the later
    ones might fail to run (a decorator or default that raises leaves the earlier definition in place)."""
    live = []
    for binding in reversed(bindings):
        live.append(binding)
        if surely_binds(binding.node):
            break
    return live


def only_raises_not_implemented(node: ast.stmt) -> bool:
    """Whether ``node`` is an undecorated function whose body, but for a docstring, is ``raise NotImplementedError()``."""
    if not isinstance(node, ast.FunctionDef) or node.decorator_list:
        return False
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return len(body) == 1 and isinstance(body[0], ast.Raise) and raises_not_implemented(body[0])


def raises_not_implemented(statement: ast.Raise) -> bool:
    """Whether ``statement`` is ``raise NotImplementedError`` or ``raise NotImplementedError()``, with no cause."""
    raised = statement.exc
    if isinstance(raised, ast.Call) and not raised.args and not raised.keywords:
        raised = raised.func
    return statement.cause is None and isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def surely_binds(node: ast.stmt) -> bool:
    """Whether running a top-level statement cannot fail and leave an earlier binding in place: no decorator, and
    only literals, names and dotted names evaluated."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)):
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
    if isinstance(expression, ast.Name):
        return True
    try:
        ast.literal_eval(expression)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
