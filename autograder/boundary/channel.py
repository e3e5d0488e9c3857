"""The channel between the grader and a worker: plain data over a socket, bounded where the grader reads.

A message is a 4-byte length and then execnet's serialization of the value, which carries
only plain data (None, bools, numbers, strings, bytes, lists, tuples, dicts) and never
pickles. The worker runs student code, which can reach its end of the socket and write
anything: so the grader checks a message's declared length before it reads its bytes,
and counts the values as they are rebuilt (a list's declared length included, which
execnet would allocate at once), so that no message can make the grader hold or build
more than its limits.
"""

import socket
import struct
import time
from collections.abc import Callable, Iterator

from execnet import gateway_base

HEADER = struct.Struct("!I")


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

    def send(self, value: object, timeout: float | None = None) -> None:
        data = gateway_base.dumps_internal(value)
        self.connection.settimeout(timeout)
        self.connection.sendall(HEADER.pack(len(data)) + data)

    def receive(self, timeout: float | None = None) -> object:
        """The next message; ``TimeoutError`` after ``timeout`` seconds, ``EOFError`` once the other end is gone,
        ``MessageRefused`` for one beyond the limits."""
        deadline = None if timeout is None else time.monotonic() + timeout
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
                count = self.connection.recv_into(view[got:])
            except socket.timeout:
                raise TimeoutError from None
            except OSError as error:
                raise EOFError(str(error)) from None
            if count == 0:
                raise EOFError("the other end closed the channel")
            got += count
        return bytes(buffer)
