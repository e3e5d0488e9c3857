"""Read a submission's notebooks once, and load their definitions: imports, functions, classes and constants.

The grader reads each notebook file itself, as a regular file of a bounded size, into cells of
plain Python (``read_submission``): it judges that code, and sends the same cells to the
worker that runs them (``load_notebook``). Exploratory cells (training runs, plots, prints) never run during grading. Each code cell
is parsed on its own, so a syntax error costs only the definitions of that cell, and each
definition runs on its own, so one that fails costs only itself.
"""

import ast
import errno
import functools
import json
import linecache
import os
import re
import stat
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
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
SMALL_FILE_BYTES = 4096  # nbgrader's timestamp.txt and submission_secret.txt are a line each


class SubmissionError(Exception):
    """The submission lacks something the grader needs; the message is written for the student."""


def read_notebooks(directory: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The assignment's notebooks in ``directory`` as bytes, and why any present could not be taken.

    Each is opened without following links and must be a regular file of a bounded size: a
    link to the reference, or to a system file, is refused with a message for the student.
    """
    notebooks, problems = {}, {}
    try:
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return notebooks, problems
    try:
        for name in GRADED_NAMES:
            content, problem = read_regular_file(name, folder, MAX_NOTEBOOK_BYTES)
            if content is not None:
                notebooks[name] = content
            elif problem is not None:
                problems[name] = problem
    finally:
        os.close(folder)
    return notebooks, problems


def read_submitted_file(path: Path, limit: int = SMALL_FILE_BYTES) -> bytes | None:
    """The bytes of a file a submission holds, if it is a regular file (not a link) of at most ``limit`` bytes."""
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return read_regular_file(path.name, folder, limit)[0]
    finally:
        os.close(folder)


def read_regular_file(name: str, folder: int, limit: int) -> tuple[bytes | None, str | None]:
    """The bytes of the file ``name`` in the open ``folder``; or None and why not (None if it is absent)."""
    try:
        handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, f"{name} is a symbolic link; submit the notebook itself."
        return None, f"{name} could not be opened ({error.strerror})."
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, f"{name} is not a regular file; submit the notebook itself."
        if info.st_size > limit:
            return None, f"{name} is larger than {limit // 2**20} MB; clear its outputs and submit it again."
        return file.read(limit + 1), None


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


def notebook_cells(content: bytes, notebook_name: str, prefix: str = "") -> list["Cell"]:
    """The code cells of a notebook's bytes as grading runs them: named, IPython syntax turned into plain Python.

    This is the one reader of notebooks: the grader judges the code it returns and sends the
    same cells to the worker that runs them. Notebooks in the current format (4) are read as
    plain JSON, which is fast; older ones are converted with nbformat, which takes a second
    to import. ``prefix`` labels the cells of any submission but the student's.
    """
    try:
        content = json.loads(content)
        if not (isinstance(content, dict) and content.get("nbformat") == 4 and isinstance(content.get("cells"), list)):
            import nbformat

            content = nbformat.reads(json.dumps(content), as_version=4)
        sources = [cell.get("source", "") for cell in content["cells"]
                   if isinstance(cell, dict) and cell.get("cell_type") == "code"]
        sources = ["".join(map(str, s)) if isinstance(s, list) else str(s) for s in sources]
    except Exception as error:  # broken JSON, or nbformat's several error types
        raise SubmissionError(
            f"{notebook_name} could not be read as a notebook ({type(error).__name__}: {error}), so nothing in it "
            "can be graded. Open it in Jupyter to see whether it is damaged, or submit it again."
        ) from None
    names = cell_names(notebook_name, list(enumerate(sources, start=1)))
    return [Cell(f"{prefix}{name}", plain_python(source)) for name, source in zip(names, sources)]


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


@dataclass(frozen=True)
class Cell:
    """One code cell as grading runs it."""

    filename: str  # how tracebacks and messages name it: "03_activations.ipynb, the cell that starts with `def relu`"
    source: str  # plain Python: IPython syntax already turned into calls
    # The places, among the cell's definitions, of those to run: a program's (see ``program.py``); None for all.
    only: tuple[int, ...] | None = None


@functools.lru_cache(maxsize=128)
def parsed(filename: str, source: str) -> ast.Module:
    """A cell's syntax, parsed once per process (the judge and the program share the nodes); raises ``SyntaxError``."""
    return ast.parse(source, filename)


def definitions(cell: Cell) -> list[ast.stmt]:
    """The top-level statements of ``cell`` that grading runs (see ``is_definition``); raises ``SyntaxError``."""
    return [statement for statement in parsed(cell.filename, cell.source).body if is_definition(statement)]


def selected_definitions(cell: Cell) -> list[tuple[int, ast.stmt]]:
    """The definitions of ``cell`` that a worker runs, with their places: all, or those ``cell.only`` names."""
    return [(index, statement) for index, statement in enumerate(definitions(cell))
            if cell.only is None or index in cell.only]


@dataclass
class NotebookDefinitions:
    """What loading one notebook gave: its namespace and the problems met on the way."""

    namespace: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    cell_filenames: set[str] = field(default_factory=set)


def load_notebook(cells: list[Cell], notebook_name: str, module_name: str) -> NotebookDefinitions:
    """Run the top-level definitions of a notebook's ``cells`` in a new module.

    The module is registered in ``sys.modules`` under ``module_name`` so that pickling a
    class it defines (``torch.save`` of a whole model) can find that class again. Code is
    compiled with the cell's name as its file name so that tracebacks point at the
    student's cell.
    """
    module = types.ModuleType(module_name)
    module.__file__ = notebook_name
    sys.modules[module_name] = module
    loaded = NotebookDefinitions(namespace=module.__dict__)
    for cell in cells:
        try:
            statements = [statement for _, statement in selected_definitions(cell)]
        except SyntaxError as error:
            loaded.problems.append(
                f"{cell.filename} has a syntax error on line {error.lineno}: {error.msg}; "
                "nothing defined in that cell can be graded."
            )
            continue
        linecache.cache[cell.filename] = (len(cell.source), None, cell.source.splitlines(keepends=True), cell.filename)
        loaded.cell_filenames.add(cell.filename)
        for statement in statements:
            try:
                # On its own, with no flag of this module's or another statement's: as the judge reads it (program.py).
                code = compile(ast.Module(body=[statement], type_ignores=[]), cell.filename, "exec", dont_inherit=True)
            except SyntaxError as error:  # it parses but does not compile (a `break` outside a loop)
                loaded.problems.append(f"{cell.filename}, line {error.lineno} does not compile: {error.msg}; "
                                       "what it defines cannot be graded.")
                continue
            try:
                exec(code, loaded.namespace)
            except BaseException as error:  # even SystemExit: it costs this definition only
                loaded.problems.append(
                    f"{cell.filename}, line {statement.lineno} raised {type(error).__name__}: {error}"
                )
    return loaded


def missing_notebook(notebook_name: str) -> str:
    """What a student is told of a notebook absent from their submission."""
    return (f"{notebook_name} is missing from your submission; the functions it should define "
            f"({', '.join(GRADED_NAMES[notebook_name])}) cannot be graded.")


@dataclass
class SubmittedNotebooks:
    """A submission's notebooks as the grader read them, once: each one's cells, or why it cannot be graded."""

    cells: dict[str, list[Cell]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def read_submission(directory: Path, label: str) -> SubmittedNotebooks:
    """Read the assignment's notebooks in ``directory`` once, as regular files (never through a link)."""
    found, problems = read_notebooks(directory)
    prefix = "" if label == "student" else f"[{label}] "  # the student's cells are named as the student sees them
    submitted = SubmittedNotebooks(problems=problems)
    for name in GRADED_NAMES:
        if name in found:
            try:
                submitted.cells[name] = notebook_cells(found[name], name, prefix)
            except SubmissionError as error:
                submitted.problems[name] = str(error)
        elif name not in problems:
            submitted.problems[name] = missing_notebook(name)
    return submitted


class Submission:
    """The graded names of a submission's notebooks; ``submission.softmax`` is the notebook's ``softmax``.

    Notebooks are loaded on first use. A missing notebook or name raises ``SubmissionError``
    with a message for the student, so only the tests that need it fail.
    """

    def __init__(self, submitted: SubmittedNotebooks, label: str) -> None:
        self.submitted = submitted
        self.label = label
        self._notebooks: dict[str, NotebookDefinitions] = {}

    def notebook(self, notebook_name: str) -> NotebookDefinitions:
        """Load (once) and return the definitions of one of the assignment's notebooks."""
        if notebook_name in self.submitted.problems:
            raise SubmissionError(self.submitted.problems[notebook_name])
        if notebook_name not in self.submitted.cells:
            raise SubmissionError(missing_notebook(notebook_name))
        if notebook_name not in self._notebooks:
            module_name = f"{self.label}_{Path(notebook_name).stem}"
            self._notebooks[notebook_name] = load_notebook(self.submitted.cells[notebook_name], notebook_name,
                                                           module_name)
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
