"""A pytest plugin that hands a student's own ``pytest autograder/`` to their warm checker, as ``check`` does.

pytest imports it (``-p autograder.handoff``, in ``pyproject.toml``'s ``addopts``) while it reads its
command line: before it captures the output, loads the graded suite's conftest, or imports torch,
hypothesis and the checks, which take seconds. Where the run is a student's plain check (see
``launch.hand_off``) the warm checker grades it, printing to this process's terminal what ``check``
prints, and this process exits with the grading's code; any other run goes on untouched.
"""

import os
import sys

from autograder.launch import hand_off

if (code := hand_off()) is not None:
    sys.stdout.flush()
    os._exit(code)
