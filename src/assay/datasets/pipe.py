"""A bounded in-memory pipe that lets a parser thread read bytes while they still arrive."""

from __future__ import annotations

import io
import sys
import threading
from collections import deque
from typing import Any

MIB = 1024 * 1024


class PipeClosedError(Exception):
    """The reading side stopped (it failed or finished early); stop writing."""


class BlockPipe(io.RawIOBase):
    """Writers ``put`` blocks from one thread; a reader thread consumes them as a binary file.

    Blocks are passed by reference, never copied: ``read`` hands back a whole block when the
    caller asks for at least that much (Arrow's readers then use its memory as it is), and
    joins small blocks until it has ``min_read`` bytes, so that a writer of tiny pieces does
    not make the parser work in tiny batches. At most ``max_bytes`` wait in the pipe (always
    at least one block), so a slow reader slows the writer down instead of letting memory grow.
    """

    def __init__(self, max_bytes: int = 2 * MIB, min_read: int = MIB) -> None:
        self._max_bytes = max_bytes
        self._min_read = min_read
        self._changed = threading.Condition()
        self._blocks: deque[bytes] = deque()
        self._queued = 0
        self._writer_done = False
        self._reader_gone = False
        self._block = b""
        self._offset = 0

    # The writing side.

    def put(self, block: bytes) -> None:
        """Queue ``block`` (kept by reference: do not change it afterwards)."""
        if not block:
            return
        with self._changed:
            while self._queued and self._queued + len(block) > self._max_bytes and not self._reader_gone:
                self._changed.wait()
            if self._reader_gone:
                raise PipeClosedError
            self._blocks.append(block)
            self._queued += len(block)
            self._changed.notify_all()

    def close_writer(self) -> None:
        """Signal end of input; the reader sees EOF after the last block."""
        with self._changed:
            self._writer_done = True
            self._changed.notify_all()

    # The reading side.

    def close_reader(self) -> None:
        """Called by the reader when it stops early (or by anyone to stop it): a blocked
        writer wakes up with ``PipeClosedError``, and so does a reader waiting for data."""
        with self._changed:
            self._reader_gone = True
            self._blocks.clear()
            self._queued = 0
            self._changed.notify_all()

    def readable(self) -> bool:
        return True

    def _next_block(self) -> bool:
        with self._changed:
            while not self._blocks:
                if self._reader_gone:
                    raise PipeClosedError
                if self._writer_done:
                    return False
                self._changed.wait()
            self._block = self._blocks.popleft()
            self._offset = 0
            self._queued -= len(self._block)
            self._changed.notify_all()
            return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        wanted = size
        pieces: list[bytes | memoryview] = []
        total = 0
        while total < min(wanted, self._min_read):
            if self._offset == len(self._block) and not self._next_block():
                break
            take = min(len(self._block) - self._offset, wanted - total)
            if self._offset == 0 and take == len(self._block):
                pieces.append(self._block)
            else:
                pieces.append(memoryview(self._block)[self._offset : self._offset + take])
            self._offset += take
            total += take
        if self._offset == len(self._block):
            self._block, self._offset = b"", 0
        return b"".join(pieces)

    def readall(self) -> bytes:
        pieces = []
        while piece := self.read(sys.maxsize):
            pieces.append(piece)
        return b"".join(pieces)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)
