"""The grading run: options, the ``student`` and ``reference`` fixtures, points and the score table.

At configure time the grader confines (or finds out it cannot confine) student code, imports
what workers need and forks the zygote that forks them (``boundary/zygote.py``), before it
reads the reference or any submission. The reference is then loaded in this process.
"""

import os
import time

# When this grading began: when a job slot forked it, or, in a fresh process, as pytest loaded this file (for its
# profile; the monotonic clock is the machine's, the same in every process).
STARTED = float(os.environ.pop("AUTOGRADER_FORKED_AT", time.monotonic()))

import hashlib
import inspect
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

import autograder.boundary.confinement as confining
from autograder.boundary.confinement import Confinement
from autograder.boundary.trial import find_confinement, restrictable
from autograder.boundary.isolation import Limits, RemoteSubmission
from autograder.boundary.reference import LocalSubmission
from autograder.boundary.messages import StudentCodeFailed, bounded, describe
from autograder.boundary.worker import preload
from autograder.boundary.zygote import SpawnedWorkers, Zygote, start_zygote
from autograder.contract import NOTEBOOK_OF, PARTS, PROBE_MODULES, REPO_ROOT
from autograder.fingerprint import digest_files, files_under, grading_facts
from autograder.options import add_options
from autograder.reports.feedback import feedback_text
from autograder.reports.profile import write_profile
from autograder.reports.report import (FAILED, NOT_CHECKED, NOT_RUN, PASSED, STUB, UNCHECKED, Outcome, results_json,
                                      score_table, write_results)
from autograder.suite.blame import blame
from autograder.suite.stubs import is_stub_in_source, untouched_stub
from autograder.suite.strategies import draw_no_local_constants, print_examples_exactly

if TYPE_CHECKING:
    import torch

# Derandomized so that a submission gets the same score on every run.
settings.register_profile(
    "grading",
    derandomize=True,
    database=None,
    deadline=None,
    # The fewest examples that still catch every known-wrong implementation in tests/test_mutants.py
    # (5, 10, 20 and 40 all do), with a margin: each example is a round trip to the worker.
    max_examples=10,
    print_blob=False,
    # No "explain" phase: it lists grader and torch lines, which mean nothing to a student.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("grading")
draw_no_local_constants()
print_examples_exactly()

OUTCOMES = pytest.StashKey[dict[str, Outcome]]()
STUDENT = pytest.StashKey[RemoteSubmission]()
# Graded names found to be untouched stubs, by the failure of their first check (see ``remember_stub``).
STUBS = pytest.StashKey[dict[str, StudentCodeFailed]]()
# Each test's graded names it builds (its ``uses`` markers); the tests whose failure names its own cause; whether
# the failures that another graded name explains have been said so (see ``blame_dependencies``).
BUILDS = pytest.StashKey[dict[str, tuple[str, ...]]]()
EXPLAINED = pytest.StashKey[set[str]]()
BLAMED = pytest.StashKey[bool]()
CONFINEMENT = pytest.StashKey[Confinement]()
REFERENCE = pytest.StashKey[LocalSubmission]()
ZYGOTE = pytest.StashKey[Zygote | SpawnedWorkers]()
HYPOTHESIS_HOME = pytest.StashKey[str]()
# Figures for the student's feedback report (results.json's ``extra_data``), e.g. their training curves.
EXTRA_DATA = pytest.StashKey[dict[str, object]]()
# Where a profile of each grading goes, where this names a folder: where its time went (``reports/profile.py``).
PROFILE = "AUTOGRADER_PROFILE"
PHASES = pytest.StashKey[dict[str, float]]()
DURATIONS = pytest.StashKey[dict[str, float]]()
INTERNAL_ERROR = "Internal error in the grader, not in your code; please tell your instructor:\n"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    if students_view(config):  # read by pytest's reporter as the session starts: no header, no "collected" line
        config.option.no_header, config.option.verbose = True, min(config.option.verbose, -1)
    # Registered here rather than in pyproject.toml, so that an installed copy of the package grades too.
    config.addinivalue_line("markers", "points(n): the points a graded test is worth")
    config.addinivalue_line("markers", "part(title): the part of the assignment a graded test module belongs to")
    config.addinivalue_line("markers", "checks(name): the graded name a test checks, e.g. sgd_step, or {name} "
                            "for the test's parameter of that name; feedback is grouped by it")
    config.addinivalue_line("markers", "uses(name): the test builds the student's graded name (Model) to check another; "
                            "when that name's own checks fail, its failure says to fix that name first")
    config.addinivalue_line("markers", "runs_early(probe, **kwargs): the test runs this probe (with the grading's "
                            "device, where the probe takes one); start it when grading starts, in a worker of its own")
    config.stash[OUTCOMES] = {}
    config.stash[STUBS] = {}
    config.stash[BUILDS], config.stash[EXPLAINED], config.stash[BLAMED] = {}, set(), False
    config.stash[EXTRA_DATA] = {}
    # Hypothesis keeps files (a cache of constants) in ./.hypothesis: not in the student's folder.
    config.stash[HYPOTHESIS_HOME] = tempfile.mkdtemp(prefix="autograder-hypothesis-")
    set_hypothesis_home_dir(config.stash[HYPOTHESIS_HOME])
    # Workers are forked with all they need already imported, so that they need nothing else from disk
    # (a course folder other users cannot enter); the confinement's trial is such a fork too.
    preload(PROBE_MODULES)
    confinement = config.stash[CONFINEMENT] = confinement_for(config)
    if not confinement.active:
        refuse_unconfined(config, confinement)
    zygote = config.stash[ZYGOTE] = start_zygote(confinement)
    config.stash[STUDENT] = RemoteSubmission(config.getoption("submission"), "student", limits(config), zygote,
                                             confinement, PROBE_MODULES)
    config.stash[PHASES], config.stash[DURATIONS] = {"configured": time.monotonic() - STARTED}, {}


def refuse_unconfined(config: pytest.Config, confinement: Confinement) -> None:
    """Stop before grading where student code would run unconfined and that is not allowed: always with
    ``--require-confinement``, and wherever the reference is present (an official grade) unless told
    ``--allow-unconfined``. A student's own check, without the reference, runs unconfined: there is nothing
    to steal, and only their own score to spoil."""
    reference = config.getoption("reference")
    if config.getoption("require_confinement"):
        raise pytest.UsageError(f"student code cannot be confined here, so nothing was graded: {confinement.description}")
    if reference.is_dir() and not config.getoption("allow_unconfined"):
        raise pytest.UsageError(
            f"nothing was graded: the reference solutions are here ({reference}), so this grade would be official, "
            f"and student code cannot be confined on this machine ({confinement.description}), so any submission "
            "could read the reference or forge its grade. Grade on Linux as root, where student code runs in "
            "namespaces or as a user of its own; or pass --allow-unconfined to grade anyway, and say so to whoever "
            "reads the grade."
        )


def confinement_for(config: pytest.Config) -> Confinement:
    """How this grading confines student code: a job slot's, with a uid of its own, or the strongest this machine allows."""
    if confining.known is not None:
        return confining.known.with_own_uid()
    # What student code must never read: the reference solutions, the git history that holds
    # them too, what the command names (the class's folders), and the folder of the results
    # (other gradings' results may lie there), unless it is shared (/tmp).
    results = config.getoption("results")
    results_folder = [] if results is None else [Path(results).resolve().parent]
    protected = [config.getoption("reference"), REPO_ROOT / "solutions", REPO_ROOT / ".git",
                 *config.getoption("protect"), *(f for f in results_folder if f.is_dir() and restrictable(f))]
    return find_confinement(protected, config.getoption("sandbox"))


def limits(config: pytest.Config) -> Limits:
    """The limits set on the command line."""
    return Limits(
        call_seconds=config.getoption("call_timeout"),
        training_seconds=config.getoption("training_timeout"),
        submission_seconds=config.getoption("submission_timeout"),
        memory_mb=config.getoption("memory_limit") or None,
        reply_bytes=int(config.getoption("reply_limit") * 2**20),
    )


@pytest.fixture(scope="session")
def student(pytestconfig: pytest.Config) -> RemoteSubmission:
    """The submission being graded, in a confined worker: ``student.softmax(z)`` calls the student's ``softmax``."""
    return pytestconfig.stash[STUDENT]


@pytest.fixture(scope="session", autouse=True)
def early_runs(request: pytest.FixtureRequest, student: RemoteSubmission) -> None:
    """Start every probe a test to be run marks ``runs_early``, before the first test: a long training run
    then goes on beside the other checks, on another core."""
    if request.config.getoption("no_early_runs") or len(available_cpus()) < 2:
        return
    for item in request.session.items:
        for marker in item.iter_markers("runs_early"):
            probe, kwargs = marker.args[0], dict(marker.kwargs)
            if "device" in inspect.signature(probe).parameters:
                try:
                    kwargs["device"] = request.getfixturevalue("device").type
                except pytest.fail.Exception:
                    return  # no such device here: the tests that need it say so
            student.start_early(probe, **kwargs)


def available_cpus() -> set[int]:
    """The CPUs this process may run on (all of them where the OS does not say)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config, reference_if_present: LocalSubmission | None) -> LocalSubmission:
    """The reference solutions, loaded in this process; skips where they are absent."""
    if reference_if_present is None:
        pytest.skip(
            f"the reference solutions ({pytestconfig.getoption('reference')}) are not here; "
            "this comparison runs when your instructor grades"
        )
    return reference_if_present


@pytest.fixture(scope="session")
def reference_if_present(pytestconfig: pytest.Config) -> LocalSubmission | None:
    """The reference solutions where they are present (an instructor's grading), else None: for checks that also
    hold student code to the reference where they can, and run without it elsewhere."""
    directory = pytestconfig.getoption("reference")
    if not directory.is_dir():
        return None
    found = pytestconfig.stash[REFERENCE] = LocalSubmission(directory, cache=pytestconfig.getoption("reference_cache"))
    return found


@pytest.fixture(scope="session")
def unforeseeable_seed(pytestconfig: pytest.Config, student: RemoteSubmission) -> int:
    """A seed no student can compute beforehand, the same on every grading of the same submission: a digest of the
    reference (which students never see) and the submitted code. The checks that must see code do its work (train,
    save, load) start from it, so that no answer computed in advance fits, and a grade and its messages do not
    change from run to run. Where the reference is absent (a student's own check) nothing is official to forge."""
    digest = hashlib.sha256()
    reference = pytestconfig.getoption("reference")
    if reference.is_dir():
        digest_files(files_under(reference), reference, "reference", digest)
    for notebook, cells in sorted(student.submitted.cells.items()):
        digest.update(json.dumps([notebook, [[cell.filename, cell.source] for cell in cells]]).encode())
    return int.from_bytes(digest.digest()[:4], "big") >> 1


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> "torch.device":
    """The device to train the MLP on."""
    import torch

    choice = pytestconfig.getoption("device")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        pytest.fail("--device cuda was asked for, but torch sees no GPU", pytrace=False)
    return torch.device(choice)


@pytest.fixture
def extra_data(pytestconfig: pytest.Config) -> dict[str, object]:
    """Figures kept for the student's feedback report, written to results.json's ``extra_data``."""
    return pytestconfig.stash[EXTRA_DATA]


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every graded test starts from the same random state, so every run gives the same score."""
    import torch

    # torch.manual_seed would also queue a seed for each GPU backend not started, recording the stack for each: a
    # millisecond a test. The grader draws on the CPU; a GPU started since is seeded as torch.manual_seed does.
    torch.default_generator.manual_seed(0)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(0)


@pytest.fixture(autouse=True)
def fresh_worker_state(pytestconfig: pytest.Config) -> None:
    """A worker's time-out or crash fails the test it happened in, and no other."""
    pytestconfig.stash[STUDENT].new_test()


def marker_arg(item: pytest.Item, name: str) -> object:
    marker = item.get_closest_marker(name)
    if marker is None or len(marker.args) != 1:
        raise pytest.UsageError(f"graded test {item.nodeid} needs @pytest.mark.{name}(...) with one argument")
    return marker.args[0]


def behaviour_of(item: pytest.Item) -> str:
    """The first line of the test's docstring, in words a student reads: the behaviour it checks, for the function
    of its ``name`` parameter ("The activation" becomes "softmax"), in the dtype of its ``dtype`` parameter."""
    doc = getattr(item.function, "__doc__", None) or item.name
    title = doc.strip().splitlines()[0]
    params = dict(getattr(item, "callspec", None).params) if hasattr(item, "callspec") else {}
    name = params.pop("name", None)
    if isinstance(name, str):
        title = title.replace("The activation", name).replace("the activation", name)
    described = [f"in {str(value).removeprefix('torch.')}" if key == "dtype" else f"with {key} {value}"
                 for key, value in params.items()]
    return f"{title.rstrip('.')}, {', '.join(described)}." if described else title


def checked_name(item: pytest.Item) -> str:
    """The graded name the test checks, from its ``checks`` marker (``{name}`` filled in from its parameters)."""
    name = str(marker_arg(item, "checks"))
    callspec = getattr(item, "callspec", None)
    return name.format(**callspec.params) if callspec else name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.getoption("part")
    kept, deselected = [], []
    for item in items:
        part = marker_arg(item, "part")
        if part not in PARTS:
            raise pytest.UsageError(f"{item.nodeid} is marked part({part!r}), which autograder/contract.py's PARTS lacks")
        (kept if chosen is None or part in chosen else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    outcomes = session.config.stash[OUTCOMES]
    for item in session.items:
        outcomes[item.nodeid] = Outcome(
            name=behaviour_of(item),
            test=item.name,
            part=str(marker_arg(item, "part")),
            max_score=float(marker_arg(item, "points")),
            score=0.0,
            status=NOT_RUN,
            output="not run",
            checks=checked_name(item),
        )
        session.config.stash[BUILDS][item.nodeid] = tuple(marker.args[0] for marker in item.iter_markers("uses"))
    if not session.config.pluginmanager.get_plugin("terminalreporter") or collection_failed(session):
        return
    # The grouped feedback and the score table replace pytest's FAILURES and short summary sections.
    session.config.option.no_summary = True


def collection_failed(session: pytest.Session) -> bool:
    """Whether a graded module failed to import: pytest's own report of it is then the one to read."""
    return bool(session.config.pluginmanager.get_plugin("terminalreporter").stats.get("error"))


def students_view(config: pytest.Config) -> bool:
    """Whether this grading is a student's own check (no reference, no results file): they read its feedback and
    score, not pytest's rows of letters."""
    return config.getoption("results") is None and not config.getoption("reference").is_dir()


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    # No letter per check in a student's view: the feedback that follows says what passed (counts stay counted).
    category, letter, word = (yield)
    return (category, "", "") if students_view(config) and (letter or word) else (category, letter, word)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    durations = item.config.stash.get(DURATIONS, {})
    durations[item.nodeid] = durations.get(item.nodeid, 0.0) + report.duration
    outcome = item.config.stash[OUTCOMES].get(item.nodeid)
    if outcome is None or report.when == "teardown":
        return report
    # What became of the check is decided here, from what the grader saw: never from a message, which student code
    # can write ("Not checked: ...").
    if report.skipped:  # only the grader skips: the reference is absent, or the device is
        outcome.status, outcome.score = UNCHECKED, 0.0
        outcome.output = NOT_CHECKED + report.longrepr[2].removeprefix("Skipped: ")
    elif report.failed:
        error = call.excinfo.value
        outcome.status = FAILED
        if isinstance(error, StudentCodeFailed) and error.stub is not None and stub_in_source(item.config, error.stub):
            outcome.status, outcome.stub = STUB, error.stub[0]
            remember_stub(item.config, outcome.checks, error)
        if isinstance(error, StudentCodeFailed) and (error.about_submission or error.stub is not None):
            item.config.stash[EXPLAINED].add(item.nodeid)  # the failure names its cause: a stub, the notebook
        # The test's fixtures (student, from_scratch, ...) are no inputs of the student's function.
        message = describe(error, cell_filenames=set(), hidden=frozenset(item.fixturenames))
        if message is None:
            message = INTERNAL_ERROR + str(report.longrepr)
        report.longrepr = message = bounded(message)
        outcome.score, outcome.output = 0.0, message
    elif report.when == "call":
        outcome.status, outcome.score, outcome.output = PASSED, outcome.max_score, ""
    return report


def stub_in_source(config: pytest.Config, stub: tuple[str, str]) -> bool:
    """Whether a worker's report that a check met the untouched stub ``(qualified name, cell)`` is what the source the
    grader read says: the report comes from a process student code ran in."""
    name, cell = stub
    submitted = config.stash[STUDENT].submitted.cells
    return any(is_stub_in_source(cells, name, cell) for cells in submitted.values()
               if any(c.filename == cell for c in cells))


def remember_stub(config: pytest.Config, checked: str, error: StudentCodeFailed) -> None:
    """Where a check of ``checked`` failed on its own untouched stub, and the source the grader read shows that stub
    fails every call, its later checks fail at once with the same message: running them (hypothesis's examples and
    their shrinking, the reference's side of each) could only fail them again."""
    name, cell = error.stub
    known = config.stash[STUBS]
    if name == checked and name not in known and name in NOTEBOOK_OF and untouched_stub(
            config.stash[STUDENT].cells(NOTEBOOK_OF[name]), name, cell):
        known[name] = error


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    outcome = item.config.stash[OUTCOMES].get(item.nodeid)
    stub = item.config.stash[STUBS].get(outcome.checks) if outcome is not None else None
    if stub is not None:
        raise stub.again()


def blame_dependencies(config: pytest.Config) -> None:
    """Once every check has run (at the summary or at the end, whichever comes first): ``suite/blame.py``."""
    if not config.stash[BLAMED]:
        config.stash[BLAMED] = True
        blame(config.stash[OUTCOMES], config.stash[EXPLAINED], config.stash[BUILDS], config.stash[STUDENT].cells)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    blame_dependencies(config)
    outcomes = list(config.stash[OUTCOMES].values())
    if not outcomes:
        return
    results = results_json(outcomes)
    terminalreporter.write_sep("=", "feedback, by part and function")
    terminalreporter.write_line(feedback_text(results, parts_in(results)))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # Here, after pytest's own last line ("3 failed, 73 passed in 9.1s"), so that the score is the last thing printed.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    outcomes = list(config.stash.get(OUTCOMES, {}).values())
    if reporter is None or not outcomes:
        return
    reporter.write_sep("=", f"score for {config.getoption('submission')}")
    reporter.write_line(score_table(outcomes))
    if config.getoption("reference").is_dir():  # an instructor's grading: how far its figures can be trusted
        reporter.write_line(config.stash[CONFINEMENT].log_line)


def parts_in(results: dict) -> list[str]:
    """The parts a results.json grades, in the order of ``PARTS``."""
    tags = {tag for test in results["tests"] for tag in test.get("tags", [])}
    return [title for title in PARTS if title in tags]


def pytest_sessionfinish(session: pytest.Session) -> None:
    phases = session.config.stash.get(PHASES, {})
    phases["checked"] = time.monotonic() - STARTED
    # Workers go first, so nothing of the student's is running when the results are written.
    session.config.stash[STUDENT].stop()
    session.config.stash[ZYGOTE].stop()
    shutil.rmtree(session.config.stash[HYPOTHESIS_HOME], ignore_errors=True)
    path = session.config.getoption("results")
    if path is not None:
        blame_dependencies(session.config)
        extra_data = {**session.config.stash[EXTRA_DATA], "grading": grading_facts()}
        write_results(path, list(session.config.stash[OUTCOMES].values()), extra_data,
                      session.config.stash[CONFINEMENT].summary)
    phases["finished"] = time.monotonic() - STARTED
    if os.environ.get(PROFILE):
        config = session.config
        reference = config.stash.get(REFERENCE, None)
        checks = [{"part": o.part, "checks": o.checks, "seconds": config.stash[DURATIONS].get(nodeid, 0.0)}
                  for nodeid, o in config.stash[OUTCOMES].items()]
        write_profile(Path(os.environ[PROFILE]), Path(config.getoption("submission")).resolve().parent.name, phases,
                      checks, config.stash[STUDENT].budget.spent, [] if reference is None else reference.spent)
