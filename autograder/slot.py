"""A job slot of ``grade-all``: one long-lived process that forks a fresh grading run for each submission.

    python -m autograder.slot    (started by ``instructor.classroom.ClassGrader``, one per job)

A grading run costs a fresh Python the import of pytest, hypothesis and torch, and torch's
first backward pass: more than the grading itself. A slot pays them once: it imports the
graded suite and what workers need, then, for each request, forks a grading run, which
grades exactly as ``pytest autograder/`` does (its own zygote, workers, uid and results) and
exits. The slot itself never reads a submission, the reference or a result, and never runs
student code, so each fork starts as clean as the first.

On stdin, one JSON line each: first the class's confinement (tried once by ``grade-all``),
then ``{"arguments": [pytest's arguments], "log": path}`` per submission. On stdout, one
JSON line per submission: ``{"returncode": n}``.
"""

import json
import os
import signal
import sys

import pytest

from autograder.boundary import confinement
from autograder.boundary.worker import preload
from autograder.contract import PROBE_MODULES
# The graded test modules, conftest.py and hypothesis (a pytest plugin) are left for each
# grading to import: pytest rewrites their assertions as it imports them, and a grading must
# say what `pytest autograder/` says.


def grading_run(arguments: list[str], log: str) -> int:
    """Fork a grading run of ``pytest arguments`` with its output in ``log``; its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with open(log, "w") as output:
                os.dup2(output.fileno(), 1)
                os.dup2(output.fileno(), 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)  # the slot's requests are not the grading's to read
            code = int(pytest.main(arguments))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:  # grade-all was interrupted: the grading stops its workers, then the slot stops
        os.kill(pid, signal.SIGINT)
        os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    confinement.known = confinement.Confinement(**{key: tuple(value) if isinstance(value, list) else value
                                                   for key, value in json.loads(sys.stdin.readline()).items()})
    preload(PROBE_MODULES)
    for line in sys.stdin:
        request = json.loads(line)
        returncode = grading_run(request["arguments"], request["log"])
        print(json.dumps({"returncode": returncode}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
