"""A bounded in-memory pipe that lets a parser thread read bytes while they still arrive."""

from __future__ import annotations

import io
import queue
from typing import Any

_EOF = b""


class PipeClosedError(Exception):
    """The reading side stopped (it failed or finished early); stop writing."""


class BlockPipe(io.RawIOBase):
    """Writers ``put`` blocks from one thread; a reader thread consumes them as a binary file.

    At most ``max_blocks`` blocks wait in memory, so a slow reader slows the writer down
    instead of letting memory grow.
    """

    def __init__(self, max_blocks: int = 4) -> None:
        self._blocks: queue.Queue[bytes] = queue.Queue(max_blocks)
        self._current = memoryview(b"")
        self._finished = False
        self._reader_gone = False

    def put(self, block: bytes) -> None:
        while not self._reader_gone:
            try:
                self._blocks.put(block, timeout=0.1)
                return
            except queue.Full:
                continue
        raise PipeClosedError

    def close_writer(self) -> None:
        """Signal end of input; the reader sees EOF after the last block."""
        if self._reader_gone:
            return
        self.put(_EOF)

    def close_reader(self) -> None:
        """Called by the reader when it stops early, so that a blocked writer wakes up."""
        self._reader_gone = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._current:
            if self._finished:
                return 0
            try:
                block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                if self._reader_gone:
                    raise PipeClosedError from None
                continue
            if block == _EOF:
                self._finished = True
                return 0
            self._current = memoryview(block)
        count = min(len(view), len(self._current))
        view[:count] = self._current[:count]
        self._current = self._current[count:]
        return count
