"""Validate an uploaded table while it streams in and write its canonical Parquet copy.

``TableIngest`` runs a parser thread fed through a ``BlockPipe``: the API keeps receiving
(and uploading the original) while the parser checks the table and writes Parquet, so a large
upload is read once and never held in memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from assay.datasets.pipe import BlockPipe, PipeClosedError
from assay.errors import InvalidInputError
from assay.storage.base import ObjectWriter

REQUIRED_COLUMN = "examples"
GROUND_TRUTH_COLUMN = "ground_truth"
TEXT_COLUMNS = (REQUIRED_COLUMN, GROUND_TRUTH_COLUMN)
# What a parser asks its source for at a time: more than one block of the upload pipe, so
# that each read hands over a whole block without copying it (one Arrow batch per block).
READ_SIZE = 16 * 1024 * 1024
# The CSV header row must lie within the first HEAD_SIZE bytes.
HEAD_SIZE = 1024 * 1024
# How many reads Arrow may make ahead of the batches the Parquet writer is done with: at
# least 2, as Arrow reads one block past the one it parses (to learn whether it is the last).
READ_WINDOW = 2
STALL_SECONDS = 0.2
MAX_ERROR_TEXT = 300


@dataclass
class TableSummary:
    row_count: int = 0
    columns: list[dict[str, str]] = field(default_factory=list)
    ground_truth: bool = False


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError(message[:MAX_ERROR_TEXT], field="dataset")


def _check_columns(names: list[str]) -> None:
    seen: set[str] = set()
    duplicates = sorted({name for name in names if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise _invalid(f"duplicate column names: {', '.join(duplicates)}")
    if REQUIRED_COLUMN not in names:
        raise _invalid(f"required column '{REQUIRED_COLUMN}' is missing (columns: {', '.join(names)})")


def _as_text_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``examples`` and ``ground_truth`` are text whatever the source typed them as."""
    arrays = []
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        if name in TEXT_COLUMNS and not pa.types.is_string(array.type):
            if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
                raise _invalid(f"column '{name}' is not UTF-8 text")
            array = pc.cast(array, pa.string())
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _blank_count(array: pa.Array) -> int:
    """Values that are missing, empty or only whitespace. (Comparing with a Python ``""``
    would make pyarrow import pandas, some 30 MB, just to rule out that it is a pandas
    object.)"""
    filled = pc.and_(pc.cast(pc.binary_length(array), pa.bool_()), pc.invert(pc.utf8_is_space(array)))
    return len(array) - int(pc.sum(filled).as_py() or 0)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Reader(io.RawIOBase):
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


class _ReplayReader(_Reader):
    """Yields ``head`` first, then the rest of ``source``: lets us peek at the CSV header."""

    def __init__(self, head: bytes, source: _Readable) -> None:
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


class _Utf8CheckingReader(_Reader):
    """Passes bytes through, failing on the first byte that is not valid UTF-8."""

    def __init__(self, source: _Readable) -> None:
        self._source = source
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._source.read(-1 if size is None else size)
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise _invalid(f"file is not UTF-8 text (byte {self._offset + exc.start})") from exc
        self._offset += len(data)
        return data


class _PacedReader(_Reader):
    """Keeps an Arrow streaming reader at most ``window`` reads ahead of the batches taken
    from it. Arrow reads ahead on a thread of its own, up to 32 blocks, however slowly its
    batches are consumed (here: compressed to Parquet), and every block it holds is memory.

    Each read makes about one batch. Take the batches through ``batches``: each batch the
    consumer is done with allows one more read. Should the reader need more reads than that
    for the batch the consumer waits for (a row longer than ``window`` reads), it gets one
    more read every ``STALL_SECONDS`` until that batch comes.
    """

    def __init__(self, source: _Readable, window: int = READ_WINDOW) -> None:
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
            self._reads += 1
        return self._source.read(-1 if size is None else size)

    def _set_waiting(self, waiting: bool) -> None:
        with self._changed:
            self._consumer_waiting = waiting
            if not waiting:
                self._stall_reads = 0
            self._changed.notify_all()

    def batches(self, reader: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
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


def _read_head(source: BinaryIO) -> bytes:
    """The start of ``source``: at least ``HEAD_SIZE`` bytes (or the whole of a smaller file),
    in whole reads, so that the parser's later reads stay aligned with the pipe's blocks."""
    head = source.read(READ_SIZE)
    while head and len(head) < HEAD_SIZE and (more := source.read(READ_SIZE)):
        head += more
    return head


def _csv_header(head: bytes) -> list[str]:
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _invalid(f"file is not UTF-8 text (byte {exc.start} of the first block)") from exc
    first_line_end = 0
    reader = csv.reader(io.StringIO(text))
    try:
        names = next(reader)
        first_line_end = reader.line_num
    except (StopIteration, csv.Error) as exc:
        raise _invalid("cannot read the CSV header row") from exc
    if first_line_end == 0 or not names:
        raise _invalid("the CSV header row is empty")
    return [name.strip() for name in names]


def _csv_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    head = _read_head(source)
    if not head:
        raise _invalid("file is empty")
    names = _csv_header(head)
    _check_columns(names)
    paced = _PacedReader(_ReplayReader(head, source))
    reader = pa_csv.open_csv(
        paced,
        read_options=pa_csv.ReadOptions(block_size=READ_SIZE, use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, check_utf8=True, strings_can_be_null=False
        ),
    )
    yield from paced.batches(reader)


def _jsonl_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    head = _read_head(source)
    if not head.strip():
        raise _invalid("file is empty")
    paced = _PacedReader(_Utf8CheckingReader(_ReplayReader(head, source)))
    reader = pa_json.open_json(paced, read_options=pa_json.ReadOptions(block_size=READ_SIZE))
    for batch in paced.batches(reader):
        _check_columns(batch.schema.names)
        yield batch


def _parquet_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    with tempfile.TemporaryFile() as spool:
        while chunk := source.read(READ_SIZE):
            spool.write(chunk)
        if spool.tell() == 0:
            raise _invalid("file is empty")
        spool.seek(0)
        parquet = pq.ParquetFile(spool)
        _check_columns(parquet.schema_arrow.names)
        yield from parquet.iter_batches(batch_size=65536)


READERS = {"csv": _csv_batches, "jsonl": _jsonl_batches, "parquet": _parquet_batches}


def convert_table(source_format: str, source: BinaryIO, sink: ObjectWriter) -> TableSummary:
    """Read every batch of ``source``, check it, and write the canonical Parquet to ``sink``."""
    summary = TableSummary()
    blank_ground_truth = 0
    writer: pq.ParquetWriter | None = None
    try:
        for raw_batch in READERS[source_format](source):
            batch = _as_text_columns(raw_batch)
            if writer is None:
                writer = pq.ParquetWriter(sink, batch.schema, compression="zstd")
                summary.columns = [{"name": f.name, "type": str(f.type)} for f in batch.schema]
            elif batch.schema != writer.schema:
                raise _invalid(
                    f"row {summary.row_count + 1} onwards has other columns or types than the start"
                )
            if batch.num_rows == 0:
                continue
            writer.write_batch(batch)
            summary.row_count += batch.num_rows
            if GROUND_TRUTH_COLUMN in batch.schema.names:
                blank_ground_truth += _blank_count(batch.column(GROUND_TRUTH_COLUMN))
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "UTF-8" in text or "utf8" in text:
            raise _invalid("file is not UTF-8 text") from exc
        raise _invalid(f"cannot parse the {source_format.upper()} file: {text}") from exc
    finally:
        if writer is not None:
            writer.close()
    if summary.row_count == 0:
        raise _invalid("the table has no rows")
    has_column = any(column["name"] == GROUND_TRUTH_COLUMN for column in summary.columns)
    summary.ground_truth = has_column and blank_ground_truth == 0
    return summary


def summarize_parquet(source: BinaryIO) -> TableSummary:
    """Row count, columns and the ground-truth flag of a Parquet table written by a job."""
    parquet = pq.ParquetFile(source)
    names = parquet.schema_arrow.names
    summary = TableSummary(
        row_count=parquet.metadata.num_rows,
        columns=[{"name": f.name, "type": str(f.type)} for f in parquet.schema_arrow],
    )
    if GROUND_TRUTH_COLUMN in names and summary.row_count:
        blanks = sum(
            _blank_count(pc.cast(batch.column(0), pa.string()))
            for batch in parquet.iter_batches(columns=[GROUND_TRUTH_COLUMN])
        )
        summary.ground_truth = blanks == 0
    return summary


class TableIngest:
    """Runs ``convert_table`` on a thread, fed block by block with ``feed``."""

    def __init__(self, source_format: str, sink: ObjectWriter) -> None:
        self._pipe = BlockPipe()
        self._sink = sink
        self._format = source_format
        self._result: TableSummary | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dataset-ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = convert_table(self._format, cast(BinaryIO, self._pipe), self._sink)
        except BaseException as exc:
            self._error = exc
        finally:
            self._pipe.close_reader()

    def feed(self, block: bytes) -> None:
        """Hand one block to the parser (by reference when it is ``bytes``); raises the
        parser's error if it already stopped."""
        try:
            self._pipe.put(block if type(block) is bytes else bytes(block))
        except PipeClosedError:
            self._thread.join()
            self._raise_error()

    def finish(self) -> TableSummary:
        with contextlib.suppress(PipeClosedError):
            self._pipe.close_writer()
        self._thread.join()
        self._raise_error()
        assert self._result is not None
        return self._result

    def cancel(self) -> None:
        self._pipe.close_reader()
        with contextlib.suppress(PipeClosedError):
            self._pipe.close_writer()
        self._thread.join(timeout=30)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise _invalid("the parser stopped before the end of the file")
