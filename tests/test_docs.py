"""The documentation: a short README whose links resolve, and a site in docs/ that builds with MkDocs --strict."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.contract import REPO_ROOT
from autograder.instructor.student_bundle import STUDENTS_PAGE

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
MKDOCS_CONFIG = REPO_ROOT / "mkdocs.yml"
# The README is the entry, not the manual: past this it is growing back into one.
README_MAX_LINES = 200
# A Markdown link's target (not an image's): up to the closing parenthesis, without a title.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
# A target with a scheme (https:, mailto:) is not a file of this repository.
URL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
# The README's test commands: CI runs the first (.ci/run), a developer the second while iterating.
TEST_COMMANDS = ("pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15", 'pytest -m "not slow"')


def relative_links(text: str) -> list[str]:
    """Every link target in Markdown ``text`` that is not a URL, in order (``page.md#anchor``, ``#anchor``)."""
    without_code = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)  # a link inside code is not a link
    return [target for target in LINK.findall(without_code) if not URL.match(target)]


def anchor(heading: str) -> str:
    """The anchor GitHub and MkDocs give a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def anchors_of(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside code blocks)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file does not exist, or whose anchor no heading of that file makes."""
    broken = []
    for target in relative_links(page.read_text()):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (fragment and file.suffix == ".md" and fragment not in anchors_of(file)):
            broken.append(target)
    return broken


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``site``: its exit code and what it printed."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def docs_copy(tmp_path: Path) -> Path:
    """A copy of mkdocs.yml and docs/ to break on purpose: the copy's mkdocs.yml."""
    shutil.copytree(DOCS, tmp_path / "docs")
    return Path(shutil.copy(MKDOCS_CONFIG, tmp_path / "mkdocs.yml"))


def test_the_readme_is_at_most_200_lines() -> None:
    """The README stays a short entry; the rest lives in docs/."""
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_every_relative_link_in_the_readme_resolves() -> None:
    """Each relative link of the README names a file of the repository, and a heading of it where it has an anchor."""
    assert relative_links(README.read_text()) and not broken_links(README)


def test_every_relative_link_in_docs_resolves() -> None:
    """Each relative link of every page in docs/ names a file, and a heading of it where it has an anchor."""
    assert {str(page): broken_links(page) for page in DOCS.rglob("*.md") if broken_links(page)} == {}


def test_the_readme_gives_the_test_commands() -> None:
    """The README shows CI's test command and the fast one, word for word."""
    assert all(command in README.read_text() for command in TEST_COMMANDS)


def test_ci_runs_the_readmes_test_command() -> None:
    """.ci/run ends with the README's test command, so CI tests what the README tells people to run."""
    assert (REPO_ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == TEST_COMMANDS[0]


def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    """`mkdocs build --strict` builds docs/ without a warning: every link, anchor and page is in order."""
    build = mkdocs_build(MKDOCS_CONFIG, tmp_path / "site")
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "site" / "students" / "index.html").is_file()


def test_a_broken_link_fails_the_strict_build(docs_copy: Path) -> None:
    """A link to a page that does not exist makes the build fail, so the build test can catch one."""
    with (docs_copy.parent / "docs" / "index.md").open("a") as page:
        page.write("\nSee [the old page](no-such-page.md).\n")
    assert mkdocs_build(docs_copy, docs_copy.parent / "site").returncode != 0


def test_a_missing_anchor_fails_the_strict_build(docs_copy: Path) -> None:
    """A link to a heading that no longer exists makes the build fail."""
    with (docs_copy.parent / "docs" / "index.md").open("a") as page:
        page.write("\nSee [the lock](instructors/ci.md#no-such-heading).\n")
    assert mkdocs_build(docs_copy, docs_copy.parent / "site").returncode != 0


def test_a_page_left_out_of_the_navigation_fails_the_strict_build(docs_copy: Path) -> None:
    """A page in docs/ that mkdocs.yml's navigation does not list makes the build fail."""
    (docs_copy.parent / "docs" / "orphan.md").write_text("# An orphan\n")
    assert mkdocs_build(docs_copy, docs_copy.parent / "site").returncode != 0


def test_the_students_page_links_nowhere_relative() -> None:
    """The students' page travels alone as the student bundle's README, so it has no relative link to break there."""
    assert relative_links(STUDENTS_PAGE.read_text()) == []
