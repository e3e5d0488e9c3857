"""The loader runs a notebook's definitions, never its experiments, and reports what it could not load."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.boundary.notebook import (NotebookDefinitions, Submission, SubmissionError, load_notebook,
                                          notebook_cells, read_submission)
from autograder.contract import RELEASE_DIR
from autograder.suite.stubs import untouched_stub


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook at ``path`` whose code cells hold ``sources``, after a markdown cell."""
    cells = [new_markdown_cell("# A notebook")] + [new_code_cell(source) for source in sources]
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture
def notebook_path(tmp_path: Path) -> Path:
    """Where a test writes its notebook."""
    return tmp_path / "03_activations.ipynb"


def loaded(path: Path, module_name: str) -> NotebookDefinitions:
    """The notebook at ``path`` read as the grader reads it, then loaded as a worker loads it."""
    return load_notebook(notebook_cells(path.read_bytes(), path.name), path.name, module_name)


def submission(folder: Path, label: str) -> Submission:
    """The notebooks in ``folder`` read once, as the grader reads a submission."""
    return Submission(read_submission(folder, label), label)


def cell_filenames(path: Path) -> list[str]:
    """How each code cell of the notebook at ``path`` is named."""
    return [cell.filename for cell in notebook_cells(path.read_bytes(), path.name)]


def test_exploratory_statements_do_not_run(notebook_path):
    """Only definitions run: a top-level call that would fail is never executed."""
    write_notebook(notebook_path, "def relu(z):\n    return z\n", "raise SystemExit('ran')\nrelu(1)")
    definitions = loaded(notebook_path, "loader_test_exploratory")
    assert definitions.namespace["relu"](3) == 3
    assert definitions.problems == []


def test_literal_constants_load_and_computed_values_do_not(notebook_path):
    """``NAME = <literal>`` is a definition; ``NAME = <call>`` is an experiment."""
    write_notebook(notebook_path, "HIDDEN = 16\nSIZES: tuple = (4, 16, 3)\nresult = len('abc')")
    namespace = loaded(notebook_path, "loader_test_constants").namespace
    assert namespace["HIDDEN"] == 16 and namespace["SIZES"] == (4, 16, 3)
    assert "result" not in namespace


def test_a_syntax_error_costs_only_its_cell(notebook_path):
    """A cell that does not parse is reported; the other cells still load."""
    write_notebook(notebook_path, "def sigmoid(z:\n    return z", "def relu(z):\n    return z")
    definitions = loaded(notebook_path, "loader_test_syntax")
    assert "relu" in definitions.namespace and "sigmoid" not in definitions.namespace
    assert len(definitions.problems) == 1
    assert "the cell that starts with `def sigmoid` has a syntax error on line 1" in definitions.problems[0]


def test_a_failing_definition_is_reported_and_the_rest_loads(notebook_path):
    """An import that fails is reported with its cell and line; later definitions load."""
    write_notebook(notebook_path, "import no_such_module_here\ndef relu(z):\n    return z")
    definitions = loaded(notebook_path, "loader_test_failing")
    assert "relu" in definitions.namespace
    assert definitions.problems == [
        "03_activations.ipynb, the cell that starts with `import no_such_module_here`, line 1 raised "
        "ModuleNotFoundError: No module named 'no_such_module_here'"
    ]


def test_ipython_magics_are_skipped(notebook_path):
    """Cells with %magics and !shell lines parse, and the magics do not run."""
    write_notebook(notebook_path, "%matplotlib inline\n!echo hi\ndef relu(z):\n    return z")
    definitions = loaded(notebook_path, "loader_test_magics")
    assert "relu" in definitions.namespace and definitions.problems == []


def test_an_unreadable_notebook_is_named_each_time_it_is_needed(tmp_path):
    """A file that is not notebook JSON raises SubmissionError saying so, on every request for its names."""
    (tmp_path / "03_activations.ipynb").write_text("{ this is not json")
    student = submission(tmp_path, "student")
    for _ in range(2):
        with pytest.raises(SubmissionError, match="03_activations.ipynb could not be read as a notebook"):
            student.relu


def test_a_missing_notebook_is_named(tmp_path):
    """Asking for a name from a notebook that is absent raises SubmissionError naming the notebook."""
    with pytest.raises(SubmissionError, match="03_activations.ipynb is missing"):
        submission(tmp_path, "loader_test_missing_notebook").softmax


def test_a_missing_name_is_named_with_the_load_problems(notebook_path):
    """Asking for a name the notebook lacks raises SubmissionError with the problems met."""
    write_notebook(notebook_path, "def softmax(z, dim=-1:\n    return z")
    student = submission(notebook_path.parent, "loader_test_missing_name")
    with pytest.raises(SubmissionError, match=r"`softmax` is not defined(.|\n)*syntax error"):
        student.softmax


def test_names_outside_the_graded_api_are_not_offered(notebook_path):
    """Only the graded names are reachable through a Submission."""
    write_notebook(notebook_path, "def helper():\n    return 1")
    with pytest.raises(AttributeError):
        submission(notebook_path.parent, "loader_test_helper").helper


def test_cells_are_named_by_how_they_start_not_by_a_count_that_includes_markdown(notebook_path):
    """A cell is named by its definition or first line; only cells that start alike get a number, among code cells."""
    write_notebook(notebook_path, "\n# the sigmoid\ndef sigmoid(z: torch.Tensor) -> torch.Tensor:\n    pass",
                   "import torch", "import torch", "", "x = torch.linspace(-10, 10, steps=1000, dtype=torch.float64)")
    assert cell_filenames(notebook_path) == [
        "03_activations.ipynb, the cell that starts with `# the sigmoid`",
        "03_activations.ipynb, code cell 2 of 5, which starts with `import torch`",
        "03_activations.ipynb, code cell 3 of 5, which starts with `import torch`",
        "03_activations.ipynb, empty code cell 4 of 5",
        "03_activations.ipynb, the cell that starts with `x = torch.linspace(-10, 10, steps=1000,…`",
    ]


def test_a_definition_cell_is_named_by_its_name(notebook_path):
    """A cell that starts with a def or a class is named by the def or class, without its parameters."""
    write_notebook(notebook_path, "def sgd_step(params: list, learning_rate: float) -> None:\n    pass",
                   "class Model(nn.Module):\n    pass")
    assert cell_filenames(notebook_path) == [
        "03_activations.ipynb, the cell that starts with `def sgd_step`",
        "03_activations.ipynb, the cell that starts with `class Model`",
    ]


def test_a_submission_is_read_once_and_a_later_rewrite_changes_nothing(notebook_path):
    """The grader keeps the code it read first: a notebook rewritten on disk afterwards is not read again."""
    write_notebook(notebook_path, "def relu(z):\n    return z")
    submitted = read_submission(notebook_path.parent, "student")
    write_notebook(notebook_path, "def relu(z):\n    return -z")
    assert [cell.source for cell in submitted.cells[notebook_path.name]] == ["def relu(z):\n    return z"]
    assert Submission(submitted, "loader_test_read_once").relu(3) == 3


STUB = 'def relu(z):\n    """ReLU."""\n    raise NotImplementedError()\n'


def stub_of_relu(path: Path, *sources: str) -> bool:
    """Whether the notebook of ``sources`` leaves ``relu`` an untouched stub of the first cell that defines it."""
    cells = notebook_cells(write_notebook(path, *sources).read_bytes(), path.name)
    return untouched_stub(cells, "relu", next(cell.filename for cell in cells if "def relu" in cell.source))


def test_every_released_function_is_an_untouched_stub():
    """Each graded function of the released notebooks, read from the source, is a stub that fails every call."""
    for name, notebook in (("sgd_step", "01_linear_regression.ipynb"), ("relu", "03_activations.ipynb")):
        cells = notebook_cells((RELEASE_DIR / notebook).read_bytes(), notebook)
        cell = next(c.filename for c in cells if f"def {name}(" in c.source)
        assert untouched_stub(cells, name, cell)


def test_a_stub_defined_again_below_is_not_untouched(notebook_path):
    """A later cell that defines the name again is what the loader leaves: no stub."""
    assert stub_of_relu(notebook_path, STUB)
    assert not stub_of_relu(notebook_path, STUB, "def relu(z):\n    return z.clamp(min=0)\n")
    assert not stub_of_relu(notebook_path, STUB, "relu = 0\n")


def test_a_function_that_raises_only_for_some_inputs_is_no_stub(notebook_path):
    """``raise NotImplementedError()`` behind a condition, or beside other statements, is the student's code."""
    assert not stub_of_relu(notebook_path, STUB.replace("    raise", "    if z.dim() > 4:\n        raise")
                            + "    return z.clamp(min=0)\n")
    assert not stub_of_relu(notebook_path, STUB.replace("def relu", "@torch.no_grad()\ndef relu"))


def test_a_definition_that_parses_but_does_not_compile_costs_only_itself(notebook_path):
    """A helper with a `break` outside any loop is reported; the definitions around it still load."""
    write_notebook(notebook_path, "def helper():\n    break\n\n\ndef relu(z):\n    return z\n")
    definitions = loaded(notebook_path, "loader_test_does_not_compile")
    assert definitions.namespace["relu"](2) == 2 and "helper" not in definitions.namespace
    assert any("does not compile" in problem for problem in definitions.problems), definitions.problems
