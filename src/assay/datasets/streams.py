"""Byte streams between the upload pipe and Arrow's streaming readers.

Each wrapper does one thing to the bytes on their way to the parser: replay a peeked head,
check UTF-8, cut reads at row ends, and pace Arrow's read-ahead to the consumer.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import io
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

import pyarrow as pa

from assay.errors import InvalidInputError

# The longest row (CSV) or line (JSONL) accepted. Arrow fails on a row that spans more than
# two of its reads, so reads are joined until they hold the end of a row, up to this size.
MAX_ROW_BYTES = 8 * 1024 * 1024
# How many reads Arrow may make ahead of the batches the Parquet writer is done with: at
# least 2, as Arrow reads one block past the one it parses (to learn whether it is the last).
READ_WINDOW = 2
STALL_SECONDS = 0.2
UTF8_SLICE = 256 * 1024
MAX_ERROR_TEXT = 300
# How deep a JSONL line may nest arrays and objects. Arrow's JSON parser recurses once per
# level, and a line nested some 10,000 deep crashes the whole process; tables never need more.
MAX_JSON_DEPTH = 64
# Every byte but opening brackets and line ends, deleted to count each line's openers.
NOT_OPENERS = bytes(byte for byte in range(256) if byte not in b"[{\n")
# What changes the nesting depth of JSON text: brackets, quotes, and escapes inside strings.
JSON_STRUCTURE = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def invalid_dataset(message: str) -> InvalidInputError:
    return InvalidInputError(message[:MAX_ERROR_TEXT], field="dataset")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class RawReader(io.RawIOBase):
    """A raw binary file defined by ``read``, which Arrow calls: the bytes it returns are
    used as they are, without the copy that ``readinto`` would make."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class ReplayReader(RawReader):
    """Yields ``head`` first, then the rest of ``source``: lets us peek at the CSV header."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self._head = head
        self._source = source

    def read(self, size: int | None = -1) -> bytes:
        if not self._head:
            return self._source.read(-1 if size is None else size)
        if size is not None and 0 <= size < len(self._head):
            data, self._head = self._head[:size], self._head[size:]
            return data
        data, self._head = self._head, b""
        return data + self._source.read() if size is None or size < 0 else data


class Utf8CheckingReader(RawReader):
    """Passes bytes through, failing on the first byte that is not valid UTF-8.

    Python's decoder checks text several times faster than Arrow's per-value check, as long
    as each slice it decodes (and the string it makes, then drops) stays small enough to be
    served from the allocator's free lists and the CPU's cache."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._source.read(-1 if size is None else size)
        view = memoryview(data)
        start = 0
        try:
            for start in range(0, len(data), UTF8_SLICE):
                self._decoder.decode(view[start : start + UTF8_SLICE])
            if not data:
                self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise invalid_dataset(
                f"file is not UTF-8 text (byte {self._offset + start + exc.start})"
            ) from exc
        self._offset += len(data)
        return data


class ArrowReadsInPython:
    """Counts the reads that Arrow's I/O threads make in our Python code.

    Arrow may still read ahead for a reader that has failed or been closed, and an
    interpreter that exits while such a thread is between taking and giving back the GIL
    aborts the process. At exit, ``wait_until_quiet`` gives those reads time to end."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0
        self._last_end = 0.0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._last_end = time.monotonic()
                self._changed.notify_all()

    def wait_until_quiet(self, quiet_seconds: float = 0.1, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while (now := time.monotonic()) < deadline:
                if self._count == 0 and now - self._last_end >= quiet_seconds:
                    return
                self._changed.wait(min(quiet_seconds, deadline - now))


ARROW_READS = ArrowReadsInPython()
atexit.register(ARROW_READS.wait_until_quiet)


class PacedReader(RawReader):
    """Keeps an Arrow streaming reader at most ``window`` reads ahead of the batches taken
    from it. Arrow reads ahead on a thread of its own, up to 32 blocks, however slowly its
    batches are consumed (here: compressed to Parquet), and every block it holds is memory.

    Each read makes about one batch. Take the batches through ``batches``: each batch the
    consumer is done with allows one more read. Should the reader need more reads than that
    for the batch the consumer waits for (a row longer than ``window`` reads), it gets one
    more read every ``STALL_SECONDS`` until that batch comes. Once the batches are no longer
    wanted, reads that Arrow still makes (read-ahead) end at once, empty.
    """

    def __init__(self, source: Readable, window: int = READ_WINDOW) -> None:
        self._source = source
        self._window = window
        self._reads = 0
        self._batches_done = 0
        self._stall_reads = 0
        # Opening the reader already waits for its first batch.
        self._consumer_waiting = True
        self._finished = False
        self._changed = threading.Condition()

    def _may_read(self) -> bool:
        return self._finished or self._reads < self._batches_done + self._window + self._stall_reads

    def read(self, size: int | None = -1) -> bytes:
        with ARROW_READS.track():
            if not self._wait_for_turn():
                return b""
            return self._source.read(-1 if size is None else size)

    def _wait_for_turn(self) -> bool:
        """Waits until a read may go ahead; False once the batches are no longer wanted."""
        with self._changed:
            stalled_since: float | None = None
            while not self._may_read():
                if not self._consumer_waiting:
                    stalled_since = None
                    self._changed.wait()
                    continue
                now = time.monotonic()
                stalled_since = now if stalled_since is None else stalled_since
                if now - stalled_since >= STALL_SECONDS:
                    self._stall_reads += 1
                else:
                    self._changed.wait(stalled_since + STALL_SECONDS - now)
            if self._finished:
                return False
            self._reads += 1
            return True

    def _set_waiting(self, waiting: bool) -> None:
        with self._changed:
            self._consumer_waiting = waiting
            if not waiting:
                self._stall_reads = 0
            self._changed.notify_all()

    def batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The reader's batches; the reader is closed at the end, also when it failed, so
        that no read-ahead of it outlives the ingest."""
        try:
            while True:
                self._set_waiting(True)
                try:
                    batch = next(reader, None)
                finally:
                    self._set_waiting(False)
                if batch is None:
                    return
                yield batch
                with self._changed:
                    self._batches_done += 1
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()
            reader.close()


class WholeRows(RawReader):
    """Reads that each hold the end of at least one row, and never end between the CR and
    the LF of a line end (Arrow drops that LF inside a quoted value). Blocks are joined
    (copied) only while one holds no row end, that is around rows longer than a block.

    With ``quoting`` (CSV), line ends inside quoted values do not count; whether a block
    starts inside one follows from the parity of the quotes before it (doubled quotes inside
    a value cancel out). A file that puts quotes inside unquoted values can fool that count;
    the cost is bigger reads until ``MAX_ROW_BYTES``, where the count starts over."""

    def __init__(self, source: Readable, quoting: bool) -> None:
        self._source = source
        self._quoting = quoting
        self._quoted = False
        self._carried = b""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            rest, self._carried = self._carried + self._source.read(-1), b""
            return rest
        pieces = [self._carried] if self._carried else []
        total = len(self._carried)
        self._carried = b""
        ended = False
        while total < min(size, MAX_ROW_BYTES):
            block = self._source.read(size - total)
            if not block:
                ended = True
                break
            pieces.append(block)
            total += len(block)
            if self._ends_a_row(block):
                break
        else:
            self._quoted = False
        data = b"".join(pieces)
        if not ended and len(data) > 1 and data.endswith(b"\r"):
            data, self._carried = data[:-1], b"\r"
        return data

    def _ends_a_row(self, block: bytes) -> bool:
        line_end = b"\n" if b"\n" in block else b"\r"  # CR alone ends lines in old files
        # A final CR goes with the next read: it ends no row in this one.
        end = len(block) - 1 if block.endswith(b"\r") else len(block)
        if not self._quoting:
            return block.rfind(line_end, 0, end) >= 0
        quoted_at_start = self._quoted
        quotes = block.count(b'"')
        self._quoted = quoted_at_start != (quotes % 2 == 1)
        # Walk back from the block's end to the last line end outside quotes.
        quotes_after = 0
        while (position := block.rfind(line_end, 0, end)) >= 0:
            quotes_after += block.count(b'"', position, end)
            if (quoted_at_start + quotes - quotes_after) % 2 == 0:
                return True
            # Inside quotes: so is every line end back to the quote before this one.
            end = block.rfind(b'"', 0, position)
            if end < 0:
                return False
            quotes_after += 1
        return False


class JsonDepthLimit(RawReader):
    """Passes JSONL bytes through, failing on the first line that nests deeper than
    ``max_depth``, before the parser sees it.

    A line can only nest that deep if it holds more than ``max_depth`` opening brackets.
    Deleting every other byte but line ends (in C) leaves a short string whose lines are
    each line's openers, measured at once; only a line with that many is walked token by
    token, as brackets inside strings do not count."""

    def __init__(self, source: Readable, max_depth: int = MAX_JSON_DEPTH) -> None:
        self._source = source
        self._max_depth = max_depth
        self._tail = b""  # the unfinished last line of what was read so far
        self._tail_openers = b""  # its opening brackets
        self._line = 1  # its number

    def read(self, size: int | None = -1) -> bytes:
        data = self._source.read(-1 if size is None else size)
        openers = data.translate(None, NOT_OPENERS).split(b"\n")
        openers[0] = self._tail_openers + openers[0]
        self._tail_openers = openers.pop() if data else b""
        if openers and max(map(len, openers)) > self._max_depth:
            self._check(self._tail + data, openers)
        last_end = data.rfind(b"\n")
        self._tail = data[last_end + 1 :] if last_end >= 0 else self._tail + data
        if len(self._tail) > MAX_ROW_BYTES:
            limit = MAX_ROW_BYTES // (1024 * 1024)
            raise invalid_dataset(
                f"line {self._line + len(openers)} of the JSONL file is longer than {limit} MiB"
            )
        self._line += len(openers)
        return data

    def _check(self, text: bytes, openers: list[bytes]) -> None:
        lines = text.split(b"\n")
        for index, line_openers in enumerate(openers):
            if len(line_openers) > self._max_depth and _depth(lines[index]) > self._max_depth:
                raise invalid_dataset(
                    f"line {self._line + index} nests arrays or objects deeper than {self._max_depth} levels"
                )


def _depth(line: bytes) -> int:
    """The deepest nesting of ``line`` outside strings; stray closers count as nothing."""
    depth = deepest = 0
    in_string = False
    for match in JSON_STRUCTURE.finditer(line):
        token = match.group()
        if token == b'"':
            in_string = not in_string
        elif in_string:
            continue
        elif token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth = max(depth - 1, 0)
    return deepest
