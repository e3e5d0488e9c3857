"""How every command of this package grades: ``pytest`` on the package's graded tests, in a new process, or for a
student's checks in their warm checker (``autograder/slot.py``), a process that forks one grading per check."""

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.fingerprint import GRADER_FILES, PACKAGE_DIR, digest_files

# No cache folder beside the package; no hunt for unraisable exceptions at exit (three full
# garbage collections, 0.3 s) and no capture of log records around each check: no student code
# runs in the grader's process. Of the plugins installed, hypothesis's alone (see PLUGINS_NAMED).
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", "no:logging",
                  "-p", "_hypothesis_pytestplugin")
# A grading loads pytest's own plugins and hypothesis's, whatever else the environment has installed: another
# plugin (pytest-randomly reorders tests and reseeds) must not change a grade, and loading them (anyio's brings
# trio, 90 modules) took a quarter of a warm check's start. pytest then loads only the plugins named with -p.
# GRADING marks a process started to grade (see ``hand_off``).
GRADING = "AUTOGRADER_GRADING"
PLUGINS_NAMED = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", GRADING: "1"}
# What a student reads of a grading: their feedback and score, without pytest's header, "collected" line and rows of
# letters (the conftest blanks the letters: see ``conftest.pytest_report_teststatus``).
STUDENT_VIEW = ("-q", "--no-header", "-o", "console_output_style=classic")
# The options of a student's own `pytest autograder/` that the warm checker can take over as they are: flags, and
# options with a value.
STUDENT_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "-x", "--exitfirst"})
STUDENT_VALUES = frozenset({"--part", "--submission", "-k", "--device"})
# Exit codes of a grading run that got to the end: 0 every check passed, 1 some failed.
COMPLETED = (0, 1)
# The environment variables a grading run keeps: where programs, Python's packages, libraries,
# GPUs, caches and temporary files are. Nothing else of the caller's (tokens, keys) reaches a
# process that student code is forked from.
GRADER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
                      "CUDA_VISIBLE_DEVICES", "XDG_CACHE_HOME", "MPLCONFIGDIR", "AUTOGRADER_PROFILE")


def grader_arguments(submission: Path, results: Path | None, *options: str) -> list[str]:
    """pytest's arguments that grade the notebooks in ``submission``, from any working directory.

    They are ``autograder/ --submission DIR`` with the package's own folder spelled out, so an
    installed copy grades exactly as the repository's does.
    """
    arguments = [str(PACKAGE_DIR), *PYTEST_OPTIONS, "--submission", str(submission)]
    if results is not None:
        arguments += ["--results", str(results)]
    return arguments + list(options)


def grader_command(submission: Path, results: Path | None, *options: str) -> list[str]:
    """The command line that grades the notebooks in ``submission``: ``pytest`` with ``grader_arguments``."""
    return [sys.executable, "-m", "autograder.quick_exit_pytest",
            *grader_arguments(submission, results, *options)]


def grader_environment() -> dict[str, str]:
    """The environment to start a grading run in: the caller's, but only ``GRADER_ENVIRONMENT``; and pytest's plugins
    only those ``PYTEST_OPTIONS`` name."""
    return {**{name: os.environ[name] for name in GRADER_ENVIRONMENT if name in os.environ}, **PLUGINS_NAMED}


# A student's warm checker (``python -m autograder.slot --serve``): how long it waits for the next check. A
# student runs checks minutes apart while working; past a quarter of an hour idle its ~400 MB (PSS) are worth
# more to a JupyterHub's other users than the next check's 4 s.
CHECKER_IDLE_SECONDS = 15 * 60
# Set to "off" to grade every check in a fresh process; a number of seconds sets the idle limit.
CHECKER_SETTING = "AUTOGRADER_CHECKER"
CHECKER_START_SECONDS = 120.0
CHECKER_SOCKET = "checker.sock"
# The longest path a Unix socket may be bound to: sun_path holds 108 bytes on Linux and 104 on macOS, with a NUL.
SOCKET_PATH_BYTES = 103
REPLY_BYTES = 4096


def checker_folder() -> Path | None:
    """A folder only this user may enter, for the checker's socket; None where there can be none (no Unix sockets,
    or a TMPDIR so deep that the socket's path would be too long to bind)."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    folder = Path(tempfile.gettempdir()) / f"autograder-checker-{os.getuid()}"
    if len(os.fsencode(folder / CHECKER_SOCKET)) > SOCKET_PATH_BYTES:
        return None
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # Someone else's folder, or one others may enter, could hold a socket that is not ours.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


def checker_digest() -> str:
    """What a warm checker must share with this client to grade as a fresh process would: the package (where it is,
    and its files), the Python that runs it, and the grading environment."""
    digest = hashlib.sha256(json.dumps([sys.executable, str(PACKAGE_DIR), sorted(grader_environment().items())]).encode())
    digest_files(GRADER_FILES, PACKAGE_DIR, "grader", digest)
    return digest.hexdigest()


def session_owner() -> int:
    """The process whose end ends this user's session here: the session's leader (a terminal's shell, a Jupyter
    kernel), or this process's parent where the leader is gone."""
    leader = os.getsid(0)
    try:
        os.kill(leader, 0)
        return leader
    except ProcessLookupError:
        return os.getppid()
    except PermissionError:
        return leader


def start_checker(path: Path, digest: str, idle_seconds: float) -> None:
    """Start a warm checker on ``path`` in a session of its own (Ctrl-C in the terminal is the client's), and wait
    until it listens; OSError at once if it ends first (what it printed is in ``checker.log`` beside the socket)."""
    with open(path.with_name("checker.log"), "wb") as log:
        checker = subprocess.Popen([sys.executable, "-m", "autograder.slot", "--serve", str(path), "--digest", digest,
                                    "--idle", str(idle_seconds), "--owner", str(session_owner())],
                                   env=grader_environment(), start_new_session=True, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log)
    deadline = time.monotonic() + CHECKER_START_SECONDS
    while time.monotonic() < deadline:
        ended = checker.poll() is not None
        if path.exists():  # its own socket, or that of a checker started beside it, which it then leaves serving
            return
        if ended:
            raise OSError(f"the warm checker ended as it started (exit code {checker.returncode})")
        time.sleep(0.05)
    raise OSError("the warm checker did not start")


def warm_check(arguments: list[str], output: tuple[int, int]) -> int | None:
    """Grade ``pytest arguments`` in this user's warm checker, started if need be, printing to the file descriptors
    ``output`` (stdout, stderr); its exit code, or None where there can be no warm checker (then grade afresh)."""
    setting = os.environ.get(CHECKER_SETTING, "")
    folder = checker_folder()
    if setting == "off" or folder is None:
        return None
    idle = float(setting) if setting.replace(".", "", 1).isdigit() else CHECKER_IDLE_SECONDS
    path, digest = folder / CHECKER_SOCKET, checker_digest()
    request = json.dumps({"arguments": arguments, "cwd": os.getcwd(), "digest": digest}).encode()
    for _ in range(2):  # a checker of another grader answers that it is stale and ends; the second is ours
        try:
            if not path.exists():
                start_checker(path, digest, idle)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(str(path))
                socket.send_fds(connection, [request], list(output))
                reply = json.loads(connection.recv(REPLY_BYTES) or b"{}")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a checker that died left its socket
            continue
        if "returncode" in reply:
            return int(reply["returncode"])
        if reply.get("stale"):
            time.sleep(0.2)  # it is ending; its socket goes with it
            path.unlink(missing_ok=True)
    return None


def hand_off() -> int | None:
    """Where this process is a student's own ``pytest autograder/`` (pytest started from the command line, on this
    package, with the reference absent, no instructor's option and not itself a grading), grade it in the student's
    warm checker before anything heavy is imported here, printing there what ``check`` prints; its exit code. None
    where it must run here as it is (any other run, or no warm checker can be had)."""
    if os.environ.get(GRADING) or os.environ.get("PYTEST_ADDOPTS") or not is_pytests_command_line(sys.argv[0]):
        return None
    from autograder.contract import REFERENCE_DIR, RELEASE_DIR

    if REFERENCE_DIR.is_dir():
        return None  # an instructor's checkout: its grading is official, and runs as asked
    options, submission, arguments = [], RELEASE_DIR, iter(sys.argv[1:])
    for argument in arguments:
        if Path(argument).resolve() == PACKAGE_DIR:
            continue
        name, _, value = argument.partition("=")
        if argument in STUDENT_FLAGS:
            options.append(argument)
        elif name in STUDENT_VALUES:
            value = value or next(arguments, "")
            if name == "--submission":
                submission = Path(value)
            else:
                options += [name, value]
        else:
            return None
    return warm_check(grader_arguments(Path(submission).resolve(), None, *STUDENT_VIEW, *options), (1, 2))


def is_pytests_command_line(program: str) -> bool:
    """Whether ``sys.argv[0]`` is pytest's own (``pytest``, ``py.test``, ``python -m pytest``): not a program that
    calls pytest.main (a job slot, a test)."""
    path = Path(program)
    return path.name in ("pytest", "py.test") or path.parts[-2:] == ("pytest", "__main__.py")


def run_grading(submission: Path, results: Path | None, *options: str, output: tuple[int, int] = (1, 2)) -> int:
    """Grade the notebooks in ``submission`` as a student's check does: in the warm checker where there can be one,
    else in a fresh process; the grading's exit code. Output goes to the file descriptors ``output``."""
    submission, results = Path(submission).resolve(), None if results is None else Path(results).resolve()
    code = warm_check(grader_arguments(submission, results, *options), output)
    if code is not None:
        return code
    return subprocess.call(grader_command(submission, results, *options), env=grader_environment(),
                           stdout=output[0], stderr=output[1])
