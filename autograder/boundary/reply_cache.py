"""The reference's replies, kept on disk: grading a class asks the reference the same questions again and again.

Grading is deterministic, so every submission asks the reference the same requests (the
same functions, the same generated inputs), except where a failing check makes hypothesis
shrink. Each reply is stored under a key made of the request and of everything the reply
depends on (the reference notebooks, the grader's code, the torch version), so a changed
reference or grader never meets an old reply. With every reply at hand, no process for the
reference is started at all.

The folder must be out of student code's reach (confined student code cannot read it):
replies reveal the reference's outputs, and a forged file would change them.
"""

import hashlib
import marshal
import os
import tempfile
from pathlib import Path

from autograder.fingerprint import grader_digest


def version_key(reference: Path) -> str:
    """A digest of what every reply depends on besides the request itself."""
    import torch  # not at the top: the grader starts the worker before it imports torch

    digest = grader_digest(reference)
    digest.update(torch.__version__.encode())
    return digest.hexdigest()[:32]


class ReplyCache:
    """Replies by request, in memory for this run and, where ``folder`` is given, on disk across runs."""

    def __init__(self, folder: Path | None, reference: Path) -> None:
        self.folder = None if folder is None else folder / version_key(reference)
        self.memory: dict[str, object] = {}

    def is_warm(self) -> bool:
        """Whether an earlier run left replies for this reference and grader."""
        return self.folder is not None and self.folder.is_dir() and any(self.folder.iterdir())

    @staticmethod
    def key(message: tuple) -> str:
        # The encoded request holds only plain data, whose repr is exact and stable.
        return hashlib.sha256(repr(message).encode()).hexdigest()

    def get(self, message: tuple) -> object | None:
        """The stored reply (encoded, as the worker sent it) to ``message``, or None."""
        key = self.key(message)
        if key not in self.memory and self.folder is not None:
            try:
                self.memory[key] = marshal.loads((self.folder / key).read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                return None
        return self.memory.get(key)

    def put(self, message: tuple, payload: object) -> None:
        """Keep the reply ``payload`` to ``message``; on disk, atomically, so parallel runs may share the folder."""
        key = self.key(message)
        self.memory[key] = payload
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=self.folder, suffix=".tmp", delete=False) as handle:
            handle.write(marshal.dumps(payload))
        os.replace(handle.name, self.folder / key)
