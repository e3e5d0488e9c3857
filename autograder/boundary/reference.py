"""The reference: the instructor's code, trusted, loaded in the grader's own process, its answers kept for a class.

It answers as a worker would (``isolation.RemoteSubmission``), with the same requests and the
values through the same codec, so that a comparison with it means what it would mean with a
worker, without the process, its start-up or its memory.
"""

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from execnet import gateway_base

from autograder.boundary.channel import split_shared
from autograder.boundary.codec import decode, encode
from autograder.boundary.notebook import Submission, read_submission
from autograder.contract import NOTEBOOK_OF
from autograder.fingerprint import grader_digest


class LocalSubmission:
    """The reference's notebooks in ``directory``, answering requests as a worker would (fresh tensors both ways).

    Its answers depend on the request alone (every probe seeds what it draws), so where ``cache``
    names a folder (a class's, which no student code can reach) each answer is kept there, keyed
    by the request, the reference's code and the grader's, and every later grading of the class
    that asks the same (hypothesis's examples are the same for every submission that passes them)
    reads it instead of computing it again.
    """

    def __init__(self, directory: Path, label: str = "reference", cache: Path | None = None) -> None:
        submitted = read_submission(Path(directory), label)
        self.submission = Submission(submitted, label)
        self.label = label
        self.spent: list[tuple[str, str, float]] = []  # as SubmissionBudget.spent: the reference's side of a grading
        self.cache = None if cache is None else Path(cache) / grader_digest(Path(directory)).hexdigest()[:16]

    def answered(self, request: tuple, compute: Callable[[], object]) -> object:
        """The answer to ``request`` (plain data): from the cache where it is there, else computed, and kept."""
        if self.cache is None:
            return compute()
        path = self.cache / hashlib.sha256(gateway_base.dumps_internal(encode(request))).hexdigest()
        try:
            return decode(gateway_base.loads_internal(path.read_bytes()))
        except (OSError, ValueError, TypeError, EOFError, gateway_base.DataFormatError):
            pass
        value = compute()
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=self.cache, delete=False) as kept:  # a reader sees all of it or none
            kept.write(gateway_base.dumps_internal(encode(value)))
        os.replace(kept.name, path)
        return value

    def __repr__(self) -> str:
        return self.label

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_") or name not in NOTEBOOK_OF:
            raise AttributeError(name)

        def call(*args: object, **kwargs: object) -> object:
            started = time.monotonic()
            args, kwargs = through_codec((list(args), kwargs))
            value = self.answered(("call", name, args, kwargs),
                                  lambda: through_codec(getattr(self.submission, name)(*args, **kwargs)))
            self.spent.append((name, "call", time.monotonic() - started))
            return value

        return call

    def run(self, probe: Callable[..., object], /, **kwargs: object) -> object:
        """Run ``probe`` against the reference with ``kwargs``; a shared buffer is given as its memory, as a worker's is."""
        started = time.monotonic()
        plain, shared = split_shared(kwargs)

        def compute() -> object:
            return through_codec(probe(self.submission, **through_codec(plain),
                                       **{key: buffer.map for key, buffer in shared.items()}))

        # A request with shared memory writes into it: it is run every time.
        value = compute() if shared else self.answered(("probe", probe.__module__, probe.__name__, plain), compute)
        kind = "training" if getattr(probe, "trains", False) else "call"
        self.spent.append((f"{probe.exercises.format(**plain)} ({probe.__name__})", kind, time.monotonic() - started))
        return value


def through_codec(value: object) -> object:
    """``value`` as the other side of a channel would get it: encoded, then decoded."""
    return decode(encode(value))
