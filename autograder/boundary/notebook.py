"""Load the definitions of a folder of notebooks: imports, functions, classes and constants.

Exploratory cells (training runs, plots, prints) never run during grading. Each code cell
is parsed on its own, so a syntax error costs only the definitions of that cell, and each
definition runs on its own, so one that fails costs only itself.
"""

import ast
import json
import linecache
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from autograder.contract import GRADED_NAMES, NOTEBOOK_OF

# A line of IPython syntax: a %magic or a !shell command, at the start or after "=".
IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|=\s*[%!]", re.MULTILINE)

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The start of a cell's first line that names it: "def sgd_step", "class Model".
DEFINITION_HEAD = re.compile(r"(?:async\s+def|def|class)\s+\w+")
HEAD_LENGTH = 40


class SubmissionError(Exception):
    """The submission lacks something the grader needs; the message is written for the student."""


def is_literal(node: ast.expr) -> bool:
    """True when ``node`` is a constant expression such as ``16``, ``"cpu"`` or ``(4, 16, 3)``."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def is_definition(statement: ast.stmt) -> bool:
    """True for the top-level statements grading runs: imports, defs, classes, ``NAME = <literal>``."""
    if isinstance(statement, DEFINITIONS):
        return True
    if isinstance(statement, ast.Assign):
        return all(isinstance(t, ast.Name) for t in statement.targets) and is_literal(statement.value)
    if isinstance(statement, ast.AnnAssign):
        return (
            isinstance(statement.target, ast.Name)
            and statement.value is not None
            and is_literal(statement.value)
        )
    return False


def code_cells(path: Path) -> list[tuple[int, str]]:
    """``(position, source)`` of each code cell, positions counted from 1 over code cells only.

    Notebooks in the current format (4) are read as plain JSON, which is fast; older ones
    are converted with nbformat, which takes a second to import.
    """
    content = json.loads(path.read_bytes())
    if not (isinstance(content, dict) and content.get("nbformat") == 4 and isinstance(content.get("cells"), list)):
        import nbformat

        content = nbformat.reads(path.read_text(), as_version=4)
    sources = [cell.get("source", "") for cell in content["cells"] if cell.get("cell_type") == "code"]
    return [(position, "".join(source) if isinstance(source, list) else str(source))
            for position, source in enumerate(sources, start=1)]


def cell_head(source: str) -> str:
    """How the cell begins, as a student would recognise it: ``def sgd_step``, ``class Model``, or
    the first line that is not blank, cut at ``HEAD_LENGTH`` characters."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    definition = DEFINITION_HEAD.match(line)
    if definition:
        return definition.group(0)
    return line if len(line) <= HEAD_LENGTH else line[:HEAD_LENGTH - 1] + "…"


def cell_names(notebook_name: str, cells: list[tuple[int, str]]) -> list[str]:
    """For each code cell, where a student finds it: "01_linear_regression.ipynb, the cell that starts
    with `def sgd_step`". Jupyter numbers no cell, so no name counts cells, except to tell apart
    cells that start alike ("code cell 4 of 12, which starts with `import torch`")."""
    heads = [cell_head(source) for _, source in cells]
    names = []
    for (position, _), head in zip(cells, heads):
        if not head:
            names.append(f"{notebook_name}, empty code cell {position} of {len(cells)}")
        elif heads.count(head) > 1:
            names.append(f"{notebook_name}, code cell {position} of {len(cells)}, which starts with `{head}`")
        else:
            names.append(f"{notebook_name}, the cell that starts with `{head}`")
    return names


def plain_python(source: str) -> str:
    """The cell's source with IPython syntax turned into plain Python calls, as Jupyter does."""
    if not IPYTHON_SYNTAX.search(source):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


@dataclass
class NotebookDefinitions:
    """What loading one notebook gave: its namespace and the problems met on the way."""

    path: Path
    namespace: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    cell_filenames: set[str] = field(default_factory=set)


def load_notebook(path: Path, module_name: str, cell_prefix: str = "") -> NotebookDefinitions:
    """Run the top-level definitions of the notebook at ``path`` in a new module.

    The module is registered in ``sys.modules`` under ``module_name`` so that pickling a
    class it defines (``torch.save`` of a whole model) can find that class again. Code is
    compiled with the cell's name as its file name so that tracebacks
    point at the student's cell, named as ``cell_names`` says; the prefix keeps two submissions'
    cells apart.
    """
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    loaded = NotebookDefinitions(path=path, namespace=module.__dict__)
    try:
        cells = code_cells(path)
    except Exception as error:  # broken JSON, or nbformat's several error types
        raise SubmissionError(
            f"{path.name} could not be read as a notebook ({type(error).__name__}: {error}), so nothing in it "
            "can be graded. Open it in Jupyter to see whether it is damaged, or submit it again."
        ) from None
    for (_, cell_source), name in zip(cells, cell_names(path.name, cells)):
        filename = f"{cell_prefix}{name}"
        # IPython syntax (%magic, !shell) becomes plain Python calls, which are then skipped.
        source = plain_python(cell_source)
        try:
            tree = ast.parse(source, filename)
        except SyntaxError as error:
            loaded.problems.append(
                f"{filename} has a syntax error on line {error.lineno}: {error.msg}; "
                "nothing defined in that cell can be graded."
            )
            continue
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        loaded.cell_filenames.add(filename)
        for statement in filter(is_definition, tree.body):
            code = compile(ast.Module(body=[statement], type_ignores=[]), filename, "exec")
            try:
                exec(code, loaded.namespace)
            except BaseException as error:  # even SystemExit: it costs this definition only
                loaded.problems.append(
                    f"{filename}, line {statement.lineno} raised {type(error).__name__}: {error}"
                )
    return loaded


class Submission:
    """The graded names of one folder of notebooks; ``submission.softmax`` is the notebook's ``softmax``.

    Notebooks are loaded on first use. A missing notebook or name raises ``SubmissionError``
    with a message for the student, so only the tests that need it fail.
    """

    def __init__(self, directory: Path, label: str, unloadable: dict[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.label = label
        # Notebooks known to hang or crash while loading -> why, for the student.
        self.unloadable = unloadable or {}
        self._notebooks: dict[str, NotebookDefinitions] = {}

    def notebook(self, notebook_name: str) -> NotebookDefinitions:
        """Load (once) and return the definitions of one of the assignment's notebooks."""
        if notebook_name in self.unloadable:
            raise SubmissionError(self.unloadable[notebook_name])
        if notebook_name not in self._notebooks:
            path = self.directory / notebook_name
            if not path.is_file():
                raise SubmissionError(
                    f"{notebook_name} is missing from your submission; "
                    f"the functions it should define ({', '.join(GRADED_NAMES[notebook_name])}) "
                    "cannot be graded."
                )
            module_name = f"{self.label}_{path.stem}"
            # The student's cells are named as the student sees them; any other submission's are labelled.
            prefix = "" if self.label == "student" else f"[{self.label}] "
            try:
                self._notebooks[notebook_name] = load_notebook(path, module_name, prefix)
            except SubmissionError as error:
                self.unloadable[notebook_name] = str(error)
                raise
        return self._notebooks[notebook_name]

    def __repr__(self) -> str:
        return self.label

    @property
    def cell_filenames(self) -> set[str]:
        """The file names under which this submission's loaded cells were compiled."""
        return set().union(*(nb.cell_filenames for nb in self._notebooks.values()))

    def __getattr__(self, name: str) -> object:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)
        notebook_name = NOTEBOOK_OF[name]
        loaded = self.notebook(notebook_name)
        if name not in loaded.namespace:
            problems = "".join(f"\n  - {p}" for p in loaded.problems)
            hint = f"\nProblems met while loading {notebook_name}:{problems}" if problems else ""
            raise SubmissionError(
                f"`{name}` is not defined at the top level of {notebook_name}. "
                f"Keep the name and its parameters exactly as given in the notebook.{hint}"
            )
        return loaded.namespace[name]
