"""Similar submissions: copies with renamed variables and reordered lines are flagged, independent solutions are not.

These compare notebooks without grading them, so all but one run in a second or two.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import nbformat
import pytest

from autograder.contract import GRADED_NAMES, RELEASE_DIR, REPO_ROOT
from autograder.reports.similarity import THRESHOLD, Similarity, compare_class
from tests.class_submissions import COPIES, HINT_FOLLOWERS, INDEPENDENT, build_class

NOTEBOOKS = list(GRADED_NAMES)


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ten submissions of tests/class_submissions.py: student -> their notebooks' folder."""
    return build_class(tmp_path_factory.mktemp("class") / "submitted")


@pytest.fixture(scope="module")
def similarity(class_folders: dict[str, Path]) -> Similarity:
    """Every pair of the class compared, with the released notebooks as starter code."""
    return compare_class(class_folders, RELEASE_DIR, NOTEBOOKS)


def pasted_below_stubs(folder: Path, original: Path) -> Path:
    """The released notebooks in ``folder``, every stub untouched, with each answer cell of ``original``'s notebooks
    pasted below them as a new cell (which has no nbgrader metadata): what the grader loads is the pasted code."""
    shutil.copytree(RELEASE_DIR, folder)
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        answers = [cell for cell in nbformat.read(original / path.name, as_version=4).cells
                   if cell.metadata.get("nbgrader", {}).get("solution")]
        notebook.cells += [nbformat.v4.new_code_cell(cell.source) for cell in answers]
        nbformat.write(notebook, path)
    return folder


def flagged_pairs(similarity: Similarity) -> set[tuple[str, str]]:
    return {(pair.first, pair.second) for pair in similarity.flagged}


def test_copies_with_renamed_variables_and_reordered_lines_are_flagged(similarity: Similarity) -> None:
    """hana's answers and the two copies of them (renamed; renamed, reordered and reformatted) are flagged pairwise."""
    assert COPIES <= flagged_pairs(similarity)


def test_an_independent_correct_solution_is_not_flagged(similarity: Similarity) -> None:
    """kim, who wrote a correct solution of her own, is in no flagged pair: not with hana, the copies or the reference."""
    assert not [pair for pair in flagged_pairs(similarity) if INDEPENDENT in pair]


def test_code_half_the_class_writes_alike_flags_no_one(similarity: Similarity) -> None:
    """lee and max followed the notebook's hints on their own, as half the class did: neither is flagged, with the
    reference or with each other."""
    assert not [pair for pair in flagged_pairs(similarity) if set(pair) & set(HINT_FOLLOWERS)]


def test_without_the_class_s_common_code_the_hint_followers_would_be_flagged(class_folders: dict[str, Path]) -> None:
    """The same class compared with the starter code alone excluded flags lee with the reference: what the rule above
    changes."""
    with patch("autograder.reports.similarity.MIN_COMMON", len(class_folders) + 1):
        flagged = flagged_pairs(compare_class(class_folders, RELEASE_DIR, NOTEBOOKS))
    assert ("ada", "lee") in flagged


def test_a_copy_pasted_into_new_cells_below_the_stubs_is_flagged(class_folders: dict[str, Path], tmp_path: Path) -> None:
    """hana's answer cells pasted as new cells below untouched stubs are compared where the grader loads them:
    flagged, at the threshold or more in every notebook."""
    pasted = pasted_below_stubs(tmp_path / "pat", class_folders["hana"])
    pair = compare_class({"hana": class_folders["hana"], "pat": pasted}, RELEASE_DIR, NOTEBOOKS).pairs[0]
    assert pair.flagged and all(match.similarity >= THRESHOLD for match in pair.by_notebook.values()), pair


def test_exploratory_cells_are_not_compared(class_folders: dict[str, Path], tmp_path: Path) -> None:
    """Code the grader never runs (a training run, a print, a plot) pasted from a classmate is not compared: kim with
    every cell of hana's that is not a definition added is as similar to hana as before."""
    kim = shutil.copytree(class_folders["kim"], tmp_path / "kim")
    for path in kim.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        hanas = nbformat.read(class_folders["hana"] / path.name, as_version=4).cells
        notebook.cells += [nbformat.v4.new_code_cell(f"for _ in range(3):\n    print({i})\n{cell.source!r}")
                           for i, cell in enumerate(hanas) if cell.cell_type == "code"]
        nbformat.write(notebook, path)
    before = compare_class({"hana": class_folders["hana"], "kim": class_folders["kim"]}, RELEASE_DIR, NOTEBOOKS)
    after = compare_class({"hana": class_folders["hana"], "kim": kim}, RELEASE_DIR, NOTEBOOKS)
    assert after.pairs[0].by_notebook == before.pairs[0].by_notebook


def test_identical_answers_are_flagged_in_the_notebooks_they_share(similarity: Similarity) -> None:
    """ben handed in the reference's Parts 1 and 3 as ada did: flagged, at 100% in those notebooks, with no figure for Part 2."""
    pair = next(p for p in similarity.pairs if (p.first, p.second) == ("ada", "ben"))
    figures = {notebook: round(match.similarity, 2) for notebook, match in pair.by_notebook.items()}
    assert pair.flagged and figures["01_linear_regression.ipynb"] == 1.0
    assert pair.by_notebook["02_iris_mlp.ipynb"].shared == 0  # ben left Part 2 as given


def test_the_starter_code_alone_is_not_similar_to_anything(similarity: Similarity) -> None:
    """cy handed in the untouched stubs: once the starter code is excluded, nothing of cy's matches anyone."""
    cy_pairs = [pair for pair in similarity.pairs if "cy" in (pair.first, pair.second)]
    assert cy_pairs and all(pair.similarity == 0 for pair in cy_pairs)


def test_starter_code_counts_as_similar_without_its_exclusion(class_folders: dict[str, Path], tmp_path: Path) -> None:
    """Without the released notebooks to exclude, two stub submissions look alike: the exclusion is what prevents it."""
    stubs = {"cy": class_folders["cy"], "cy2": shutil.copytree(RELEASE_DIR, tmp_path / "cy2")}
    assert compare_class(stubs, tmp_path / "no_release", NOTEBOOKS).pairs[0].similarity > 0.9


def test_an_unreadable_notebook_is_listed_and_the_others_still_compared(similarity: Similarity) -> None:
    """dee's damaged 01_linear_regression.ipynb is listed as unreadable; her 03_activations.ipynb is still compared."""
    assert similarity.unreadable == {"dee": ["01_linear_regression.ipynb"]}
    pair = next(p for p in similarity.pairs if (p.first, p.second) == ("ada", "dee"))
    assert list(pair.by_notebook) == ["03_activations.ipynb"] and pair.flagged


@pytest.mark.slow  # two new Pythons, each importing nbformat and copydetect: seconds, many on a busy machine
def test_the_figures_do_not_depend_on_pythons_string_hash_seed(class_folders: dict[str, Path]) -> None:
    """Two processes with different PYTHONHASHSEEDs give the same similarity figures, so a report is reproducible."""
    script = (
        "import json, sys; from pathlib import Path\n"
        "from autograder.reports.similarity import compare_class\n"
        "folders = {k: Path(v) for k, v in json.loads(sys.argv[1]).items()}\n"
        f"s = compare_class(folders, Path({str(RELEASE_DIR)!r}), {NOTEBOOKS!r})\n"
        "print(json.dumps([[p.first, p.second, {n: round(m.similarity, 6) for n, m in p.by_notebook.items()}]"
        " for p in s.pairs]))\n"
    )
    folders = json.dumps({student: str(folder) for student, folder in class_folders.items() if student in ("hana", "jack", "kim")})
    runs = [subprocess.run([sys.executable, "-c", script, folders], cwd=REPO_ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] and json.loads(runs[0])


def test_a_notebook_without_nbgrader_metadata_is_compared_whole(class_folders: dict[str, Path], tmp_path: Path) -> None:
    """A copy saved without nbgrader's cell metadata (every code cell then counts as an answer) is still flagged."""
    stripped = shutil.copytree(class_folders["ivan"], tmp_path / "ivan")
    for path in stripped.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for notebook_cell in notebook.cells:
            notebook_cell.metadata.pop("nbgrader", None)
        nbformat.write(notebook, path)
    pair = compare_class({"hana": class_folders["hana"], "ivan": stripped}, RELEASE_DIR, NOTEBOOKS).pairs[0]
    assert pair.flagged, {n: m.similarity for n, m in pair.by_notebook.items()}

