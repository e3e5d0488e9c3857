"""The students' feedback pages, as a student sees them in a real browser (headless Chromium at 1024 px).

Four submissions are graded with ``grade-all --feedback``, as an instructor grades a class:
the reference (full), one with Part 1 untouched and a softmax without the max shift
(partial), the untouched stubs (stub), and one with an unreadable notebook, a missing one
and a syntax error (broken). Each student's whole page and each per-notebook page (the ones
nbgrader releases) is opened and measured; screenshots go to the test's temporary folder.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, REFERENCE_DIR, RELEASE_DIR, parts_of
from autograder.reports.feedback import points
from tests.browser import browser, open_page, page_facts, screenshot  # noqa: F401 (browser is a fixture)
from tests.test_mutants import MUTANTS, mutant_submission

pytestmark = pytest.mark.slow

STUDENTS = ("full", "partial", "stub", "broken")
# Taller than this and a student scrolls through repetition: measured heights are in the README.
MAX_PAGE_HEIGHT = {"full": 1600, "partial": 2000, "stub": 1500, "broken": 1400}
MAX_NOTEBOOK_PAGE_HEIGHT = 1400


@dataclass
class GradedClass:
    """The four submissions after grade-all: graded/ (results, whole pages) and feedback/ (per notebook)."""

    graded: Path
    feedback: Path
    screenshots: Path

    def results(self, student: str) -> dict:
        return json.loads((self.graded / student / "results.json").read_text())

    def notebook_pages(self, student: str) -> list[Path]:
        return sorted((self.feedback / student / ASSIGNMENT_ID).glob("*.html"))


def submission(student: str, folder: Path) -> None:
    """Write the notebooks ``student`` hands in to ``folder``."""
    if student == "full":
        shutil.copytree(REFERENCE_DIR, folder)
    elif student == "partial":
        mutant_submission(MUTANTS["softmax_without_the_max_shift"], folder)
        shutil.copy(RELEASE_DIR / "01_linear_regression.ipynb", folder)
    elif student == "stub":
        shutil.copytree(RELEASE_DIR, folder)
    else:
        shutil.copytree(REFERENCE_DIR, folder)
        (folder / "01_linear_regression.ipynb").write_text('{"cells": [')
        (folder / "02_iris_mlp.ipynb").unlink()
        path = folder / "03_activations.ipynb"
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.source = cell.source.replace("def tanh(z", "def tanh(z))")
        nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> GradedClass:
    """The four submissions graded in one grade-all run, with per-notebook feedback."""
    root = tmp_path_factory.mktemp("pages")
    for student in STUDENTS:
        submission(student, root / "submitted" / student / ASSIGNMENT_ID)
    run = subprocess.run([sys.executable, "-m", "autograder", "grade-all", "submitted", "--out", "graded",
                          "--feedback", "feedback", "--jobs", "2"], cwd=root, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    (root / "screenshots").mkdir()
    return GradedClass(root / "graded", root / "feedback", root / "screenshots")


@pytest.mark.parametrize("student", STUDENTS)
def test_the_page_leads_with_who_and_the_score(browser, graded_class, student):
    """The first lines a student reads name the assignment and the student, then the total of every part."""
    results = graded_class.results(student)
    open_page(browser, graded_class.graded / student / "feedback.html")
    text = page_facts(browser)["text"]
    first_lines = [line for line in text.splitlines() if line.strip()][:3]
    assert first_lines[0] == f"Feedback on {ASSIGNMENT_ID}"
    assert first_lines[1].startswith(f"Student {student} · graded ") and " · grader pytorch-nn-assignment " in first_lines[1]
    assert first_lines[2] == f"{points(results['score'], results['max_score'])} points"
    assert all(title in text for title in PARTS)


@pytest.mark.parametrize("student", STUDENTS)
def test_the_page_fits_1024_pixels_and_stays_short(browser, graded_class, student):
    """The whole page has no horizontal scrolling at 1024 px and is no taller than its bound."""
    open_page(browser, graded_class.graded / student / "feedback.html")
    facts = page_facts(browser)
    screenshot(browser, graded_class.screenshots / f"{student}.png")
    print(f"{student}: feedback.html is {facts['height']} px tall")
    assert facts["scroll_width"] <= facts["client_width"]
    assert facts["height"] <= MAX_PAGE_HEIGHT[student]


@pytest.mark.parametrize("student", STUDENTS)
def test_each_notebook_page_shows_its_parts_and_fits(browser, graded_class, student):
    """Each page nbgrader releases shows its notebook's parts and their points, fits 1024 px and stays short."""
    results = graded_class.results(student)
    pages = graded_class.notebook_pages(student)
    submitted = [n for n in GRADED_NAMES if n != "02_iris_mlp.ipynb" or student != "broken"]
    assert [p.name for p in pages] == [Path(n).with_suffix(".html").name for n in submitted]
    for path in pages:
        open_page(browser, path)
        facts = page_facts(browser)
        screenshot(browser, graded_class.screenshots / f"{student}-{path.stem}.png")
        print(f"{student}: {path.name} is {facts['height']} px tall")
        titles = parts_of(f"{path.stem}.ipynb")
        scored = [t for t in results["tests"] if set(t["tags"]) & set(titles)]
        assert f"{points(sum(t['score'] for t in scored), sum(t['max_score'] for t in scored))} points" in facts["text"]
        assert all(title in facts["text"] for title in titles)
        assert not [title for title in PARTS if title not in titles and title in facts["text"]]
        assert facts["scroll_width"] <= facts["client_width"] and facts["height"] <= MAX_NOTEBOOK_PAGE_HEIGHT


@pytest.mark.parametrize("student, page", [("full", "feedback.html"), ("partial", "feedback.html"),
                                           ("full", "02_iris_mlp.html")])
def test_the_training_curves_load_where_the_students_code_trained(browser, graded_class, student, page):
    """Where the student's Model and train_mlp trained, their curves image has loaded, with the test accuracy."""
    folder = graded_class.graded / student if page == "feedback.html" else graded_class.feedback / student / ASSIGNMENT_ID
    open_page(browser, folder / page)
    facts = page_facts(browser)
    assert facts["images"] == [{"alt": "loss and accuracy per epoch", "loaded": True}]
    assert "test accuracy 0.9" in facts["text"]


@pytest.mark.parametrize("student", ["stub", "broken"])
def test_no_curves_where_nothing_trained(browser, graded_class, student):
    """Without a working Model and train_mlp there is no image, loaded or broken."""
    open_page(browser, graded_class.graded / student / "feedback.html")
    assert page_facts(browser)["images"] == []


def test_the_stub_page_says_each_stub_once(browser, graded_class):
    """Every graded name of the untouched notebooks is one line, and no check's message repeats."""
    open_page(browser, graded_class.graded / "stub" / "feedback.html")
    text = page_facts(browser)["text"]
    checked = {t["extra_data"]["checks"] for t in graded_class.results("stub")["tests"]}
    lines = [line for line in text.splitlines() if "not implemented yet (" in line]
    assert len(lines) == len(checked) and all(" the cell that starts with " in line for line in lines)


def test_the_broken_page_says_each_unreadable_notebook_once(browser, graded_class):
    """An unreadable and a missing notebook are each one message for their part; the syntax error is named."""
    open_page(browser, graded_class.graded / "broken" / "feedback.html")
    text = page_facts(browser)["text"]
    assert text.count("01_linear_regression.ipynb could not be read as a notebook") == 1
    assert text.count("02_iris_mlp.ipynb is missing from your submission") == 2  # its two parts
    assert "the cell that starts with `def tanh` has a syntax error" in text or "def tanh has a syntax error" in text
    assert "student=student" not in text and "Failing test case" not in text


def test_the_partial_page_shows_a_failing_example_without_fixtures(browser, graded_class):
    """The softmax failure shows its smallest input, and never the test's fixtures."""
    open_page(browser, graded_class.graded / "partial" / "feedback.html")
    text = page_facts(browser)["text"]
    assert "softmax" in text and "student=student" not in text and "from_scratch" not in text
