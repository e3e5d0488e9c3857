"""The channel between the grader and a worker: plain data over a socket, bounded where the grader reads.

A message is a 4-byte length and then execnet's serialization of the value, which carries
only plain data (None, bools, numbers, strings, bytes, lists, tuples, dicts) and never
pickles. The grader may attach ``SharedBuffer``s to a message it sends (as file descriptors):
memory a worker writes into and the grader then reads itself, never through the worker. The worker runs student code, which can reach its end of the socket and write
anything: so the grader checks a message's declared length before it reads its bytes,
and counts the values as they are rebuilt (a list's declared length included, which
execnet would allocate at once), so that no message can make the grader hold or build
more than its limits.
"""

import mmap
import os
import socket
import struct
import tempfile
import time
from collections.abc import Callable, Iterator

from execnet import gateway_base

HEADER = struct.Struct("!I")
MAX_SHARED = 4  # shared buffers attached to one message


class SharedBuffer:
    """Bytes the grader shares with a worker, which the grader reads itself once the worker is done with them.

    What the worker reports about its own memory can be forged by the code it runs; the bytes
    here are the grader's own view of memory the worker was given.
    """

    def __init__(self, content: bytes) -> None:
        if hasattr(os, "memfd_create"):
            self.fd = os.memfd_create("autograder-shared")
        else:  # macOS: a file that no name leads to
            self.fd, name = tempfile.mkstemp(prefix="autograder-shared-")
            os.unlink(name)
        os.ftruncate(self.fd, len(content))
        self.map = mmap.mmap(self.fd, len(content))
        self.map[:] = content

    def read(self) -> bytes:
        return bytes(self.map)

    def write(self, content: bytes) -> None:
        """Replace the bytes, where a worker could not be given the memory itself (no descriptor passing)."""
        self.map[:] = content[:len(self.map)].ljust(len(self.map), b"\0")

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


def split_shared(kwargs: dict[str, object]) -> tuple[dict[str, object], dict[str, SharedBuffer]]:
    """A request's arguments as plain values (sent through the codec) and shared buffers (given as memory)."""
    shared = {key: value for key, value in kwargs.items() if isinstance(value, SharedBuffer)}
    return {key: value for key, value in kwargs.items() if key not in shared}, shared


class MessageRefused(EOFError):
    """A message larger than the reader's limit, or of more values; the channel is unusable after it."""

    def __init__(self, size: int | None = None, too_many_values: bool = False) -> None:
        super().__init__(f"a message of {size} bytes" if size is not None else "a message of too many values")
        self.size = size
        self.too_many_values = too_many_values


class ValueBudget:
    """The most values one message being read may hold; None where this process reads without a limit."""

    max_values: int | None = None

    @classmethod
    def counting(cls, load: Callable[[object], None]) -> Callable[[object], None]:
        """execnet's loader of one value, refusing the value past ``max_values`` in one message."""

        def counted(unserializer: object) -> None:
            if cls.max_values is not None:
                unserializer.values_loaded = getattr(unserializer, "values_loaded", 0) + 1
                if unserializer.values_loaded > cls.max_values:
                    raise MessageRefused(too_many_values=True)
            load(unserializer)

        return counted

    @classmethod
    def load_newlist(cls, unserializer: object) -> None:
        """execnet's NEWLIST, which allocates the declared length at once: refused beyond ``max_values``."""
        length = unserializer._read_int4()
        if cls.max_values is not None and not 0 <= length <= cls.max_values:
            raise MessageRefused(too_many_values=True)
        unserializer.stack.append([None] * length)


_LOADERS = gateway_base.Unserializer.num2func
_LOADERS[gateway_base.opcode.NEWLIST] = ValueBudget.load_newlist
_LOADERS.update({code: ValueBudget.counting(load) for code, load in _LOADERS.items()})


class Channel:
    """One end of a connected stream socket carrying plain-data messages.

    ``limit``: the largest message this end reads, in bytes (None: any; the worker trusts the grader).
    """

    def __init__(self, connection: socket.socket, limit: int | None = None) -> None:
        self.connection = connection
        self.limit = limit
        self.takes_fds = False  # a worker's end: it takes the grader's shared buffers, as file descriptors
        self.fds: list[int] = []  # the file descriptors that came with the last message received

    @property
    def passes_fds(self) -> bool:
        """Whether file descriptors can travel on this channel (a Unix socket)."""
        return self.connection.family == getattr(socket, "AF_UNIX", None)

    def send(self, value: object, timeout: float | None = None, fds: tuple[int, ...] = ()) -> None:
        data = gateway_base.dumps_internal(value)
        self.connection.settimeout(timeout)
        message = HEADER.pack(len(data)) + data
        sent = socket.send_fds(self.connection, [message], list(fds)) if fds else 0
        self.connection.sendall(message[sent:])

    def receive(self, timeout: float | None = None) -> object:
        """The next message; ``TimeoutError`` after ``timeout`` seconds, ``EOFError`` once the other end is gone,
        ``MessageRefused`` for one beyond the limits."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.fds = []
        (size,) = HEADER.unpack(self._read(HEADER.size, deadline))
        if self.limit is not None and size > self.limit:
            raise MessageRefused(size)
        data = self._read(size, deadline)
        try:
            return gateway_base.loads_internal(data)
        except MessageRefused:
            raise
        except Exception as error:  # noqa: BLE001 - any malformed message ends the channel as a broken one
            raise EOFError(f"a malformed message ({type(error).__name__})") from None

    def __iter__(self) -> Iterator[object]:
        """Every message until the other end closes."""
        while True:
            try:
                yield self.receive()
            except EOFError:
                return

    def close(self) -> None:
        self.connection.close()

    def _read(self, size: int, deadline: float | None) -> bytes:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            self.connection.settimeout(left)
            try:
                if self.takes_fds:
                    data, fds, _, _ = socket.recv_fds(self.connection, size - got, MAX_SHARED)
                    self.fds += fds
                    count = len(data)
                    view[got:got + count] = data
                else:
                    count = self.connection.recv_into(view[got:])
            except socket.timeout:
                raise TimeoutError from None
            except OSError as error:
                raise EOFError(str(error)) from None
            if count == 0:
                raise EOFError("the other end closed the channel")
            got += count
        return bytes(buffer)
