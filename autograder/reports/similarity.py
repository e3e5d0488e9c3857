"""Pairs of submissions whose graded code is suspiciously similar: copydetect's fingerprints, starter code excluded.

For each notebook, the code the grader loads and grades is compared: for each graded name, its
program (``boundary.program``: every top-level definition that binds it, then those of the names
they use, transitively), read from the notebook's code cells as the grader reads them
(``boundary.notebook``), wherever in the notebook it sits. An answer pasted into a new cell below
an untouched stub is compared like one written in place (nbgrader's metadata is not consulted), and
exploratory cells the grader never runs are not. copydetect fingerprints that code: it replaces
every name with one letter and drops comments, docstrings and whitespace, so renamed variables and
reformatted lines do not hide a copy. Every fingerprint that also occurs in the released notebook
(signatures, docstrings, stubs, the demonstration cells) is dropped: what students were given is
not evidence; so is every fingerprint that half the class shares (what the notebook's hints lead
everyone to write). Each pair of students is then compared notebook by notebook.
"""

import ast
import io
import itertools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files

from autograder.boundary.notebook import MAX_NOTEBOOK_BYTES, definitions, notebook_cells, read_submitted_file
from autograder.boundary.program import program, program_statements
from autograder.contract import GRADED_NAMES

# A match shorter than NOISE characters of filtered code (every name counts one character, so
# about two lines) is ignored. copydetect's default, 25, is about one line: at 25, the lecture's
# training loops, which every correct solution resembles, made independent solutions up to 0.62
# alike; at 50 they are at most 0.42, and copies still 0.88 or more (tests/class_submissions.py).
# Every k-gram is kept (a window of 1: copydetect's "guarantee threshold" equal to its noise
# threshold): answers are short, and winnowing over Python's per-process string hashes would make
# the figures vary from run to run.
NOISE = 50
# A pair is flagged where, in some notebook, this share of the two answers' code is common to both...
THRESHOLD = 0.7
# ... and the common code is at least this many characters of filtered code, both sides together
# (about four lines each): two short answers that agree are no evidence.
MIN_SHARED = 200
# Code written alike by this share of the class's submissions of a notebook, and by at least MIN_COMMON of
# them, counts for nothing, as the starter code does: what the notebook's hints lead everyone to write (the
# stable sigmoid through torch.where) is no evidence of copying. A copy shared by fewer (a ring of three in a
# class of ten) still counts. Dolos and MOSS ignore code a large share of a class shares in the same way.
COMMON_SHARE = 0.4
MIN_COMMON = 4
# The most answer code of one notebook that is compared: an honest one is a few kB, and the time and
# memory of fingerprinting and comparing grow with it (8 MB took a minute and 1.7 GB).
MAX_ANSWER_CHARS = 64 * 1024


@dataclass(frozen=True)
class NotebookMatch:
    """How much of two students' answer code in one notebook is common to both.

    ``similarity``: the common code over both answers' code together, in [0, 1];
    ``shared``: characters of filtered code in common, on both sides together.
    """

    similarity: float
    shared: int


@dataclass(frozen=True)
class SimilarPair:
    """Two students and how alike their answers are, notebook by notebook (only notebooks both have)."""

    first: str
    second: str
    by_notebook: dict[str, NotebookMatch]

    @property
    def similarity(self) -> float:
        """The highest similarity over the notebooks: a copy of one part is a copy."""
        return max((m.similarity for m in self.by_notebook.values()), default=0.0)

    @property
    def flagged(self) -> bool:
        """Whether in some notebook the answers are at least ``THRESHOLD`` alike, over at least ``MIN_SHARED`` characters."""
        return any(m.similarity >= THRESHOLD and m.shared >= MIN_SHARED for m in self.by_notebook.values())


@dataclass
class Similarity:
    """Every compared pair, most similar first, and the notebooks that could not be read."""

    pairs: list[SimilarPair]
    unreadable: dict[str, list[str]] = field(default_factory=dict)  # student -> notebook names
    too_large: dict[str, list[str]] = field(default_factory=dict)  # student -> notebooks with over MAX_ANSWER_CHARS

    @property
    def flagged(self) -> list[SimilarPair]:
        """The pairs similar enough to flag, most similar first."""
        return [pair for pair in self.pairs if pair.flagged]


def code_cells(notebook: str | bytes) -> str:
    """Every code cell of the ``notebook`` (its JSON text), joined, as written.

    Raises ``ValueError`` or what nbformat raises for a text that is not a notebook.
    """
    content = json.loads(notebook)
    if not (isinstance(content, dict) and content.get("nbformat") == 4):  # older: nbformat converts it
        import nbformat  # 1.3 s of imports (jsonschema's format checkers), for a notebook older than version 4

        content = nbformat.reads(json.dumps(content), as_version=4)
    cells = [cell for cell in content["cells"] if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    return "\n\n".join("".join(map(str, s)) if isinstance(s, list) else str(s)
                        for s in (cell.get("source", "") for cell in cells))


def graded_code(content: bytes, notebook: str) -> str:
    """The code the grader loads and grades in a notebook's bytes: the programs of its graded names, each statement
    once, in the notebook's order, as ``ast.unparse`` writes it (so a copy is the same text wherever it is pasted).

    Raises ``SubmissionError`` for bytes that are not a notebook.
    """
    cells = notebook_cells(content, notebook)
    place = {cell.filename: position for position, cell in enumerate(cells)}
    chosen: dict[tuple[int, int], ast.stmt] = {}
    for name in GRADED_NAMES.get(notebook, ()):
        for statement in program_statements(program(cells, name)):
            chosen[(place[statement.cell.filename], statement.index)] = statement.node
    return "\n\n".join(ast.unparse(chosen[key]) for key in sorted(chosen))


def every_definition(content: bytes, notebook: str) -> str:
    """Every definition the grader would load from a notebook's bytes, as ``ast.unparse`` writes it."""
    statements = []
    for cell in notebook_cells(content, notebook):
        try:
            statements += definitions(cell)
        except SyntaxError:
            continue
    return "\n\n".join(ast.unparse(statement) for statement in statements)


def fingerprint(code: str, boilerplate: np.ndarray | None = None, window: int = 1) -> CodeFingerprint:
    """copydetect's fingerprint of Python ``code``, without the hashes in ``boilerplate``."""
    return CodeFingerprint("answers.py", NOISE, window, boilerplate, language="python", fp=io.StringIO(code))


def starter_hashes(starter: Path) -> np.ndarray:
    """Every k-gram hash of the released notebook's code: its cells as written, its definitions and its graded code
    as ``graded_code`` writes them (a student's graded code is compared in that form, and a k-gram that spans two
    statements is found only in the code that has them side by side)."""
    content = starter.read_bytes()
    codes = (code_cells(content), every_definition(content, starter.name), graded_code(content, starter.name))
    return np.array(sorted(set().union(*(fingerprint(code).hashes for code in codes))))


def match(first: CodeFingerprint, second: CodeFingerprint) -> NotebookMatch:
    """How much of two fingerprinted answers is common to both (0 where either has no code of its own)."""
    if not first.hashes or not second.hashes:
        return NotebookMatch(0.0, 0)
    _, (share1, share2), _ = compare_files(first, second)
    shared1, shared2 = share1 * first.token_coverage, share2 * second.token_coverage
    total = first.token_coverage + second.token_coverage
    return NotebookMatch(float((shared1 + shared2) / total), int(shared1 + shared2))


def common_hashes(codes: Iterable[str], starter: np.ndarray) -> np.ndarray:
    """The k-gram hashes that at least ``COMMON_SHARE`` of ``codes`` (and ``MIN_COMMON`` of them) hold, starter aside."""
    prints = [fingerprint(code, starter) for code in codes]
    counts = Counter(h for print_ in prints for h in print_.hashes)
    needed = max(MIN_COMMON, COMMON_SHARE * len(prints))
    return np.array(sorted(h for h, n in counts.items() if n >= needed), dtype=np.int64)


def compare_class(submissions: dict[str, Path], starter_dir: Path, notebooks: list[str]) -> Similarity:
    """Compare every pair of ``submissions`` (student -> folder of their notebooks), notebook by notebook.

    ``starter_dir`` holds the released notebooks, whose code is excluded. A missing notebook is
    not compared; an unreadable one, or one that is not a regular file (a link), is listed in
    ``unreadable``: a submission's links are never followed; one whose answers hold more than
    ``MAX_ANSWER_CHARS`` characters, in ``too_large``.
    """
    unreadable: dict[str, list[str]] = {}
    too_large: dict[str, list[str]] = {}
    prints: dict[str, dict[str, CodeFingerprint]] = {student: {} for student in submissions}
    for notebook in notebooks:
        starter = (starter_hashes(starter_dir / notebook) if (starter_dir / notebook).is_file()
                   else np.array([], dtype=np.int64))
        codes = {}
        for student, folder in submissions.items():
            if not (folder / notebook).exists() and not (folder / notebook).is_symlink():
                continue
            try:
                code = graded_code(read_submitted_file(folder / notebook, MAX_NOTEBOOK_BYTES), notebook)
            except Exception:  # noqa: BLE001 - any unreadable file is reported, whatever nbformat raised
                unreadable.setdefault(student, []).append(notebook)
                continue
            if len(code) > MAX_ANSWER_CHARS:
                too_large.setdefault(student, []).append(notebook)
                continue
            codes[student] = code
        boilerplate = np.union1d(starter, common_hashes(codes.values(), starter))
        for student, code in codes.items():
            prints[student][notebook] = fingerprint(code, boilerplate)
    pairs = []
    for first, second in itertools.combinations(sorted(submissions), 2):
        common = [n for n in notebooks if n in prints[first] and n in prints[second]]
        pairs.append(SimilarPair(first, second, {n: match(prints[first][n], prints[second][n]) for n in common}))
    pairs.sort(key=lambda pair: (-pair.similarity, pair.first, pair.second))
    return Similarity(pairs, unreadable, too_large)
