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
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH
from assay.datasets.pipe import BlockPipe, PipeClosedError
from assay.datasets.streams import (
    MAX_ROW_BYTES,
    JsonDepthLimit,
    PacedReader,
    ReplayReader,
    Utf8CheckingReader,
    WholeRows,
    invalid_dataset,
)
from assay.storage.base import ObjectWriter

TEXT_COLUMNS = (EXAMPLES, GROUND_TRUTH)
# What a parser asks its source for at a time: more than one block of the upload pipe, so
# that each read hands over a whole block without copying it (one Arrow batch per block).
READ_SIZE = 4 * 1024 * 1024
# The CSV header row must lie within the first HEAD_SIZE bytes.
HEAD_SIZE = 1024 * 1024
# Batches are gathered into Parquet row groups of about this much Arrow data.
ROW_GROUP_BYTES = 4 * 1024 * 1024


def _memory_pool() -> pa.MemoryPool:
    """Arrow memory for ingest: jemalloc where pyarrow has it, unless
    ``ARROW_DEFAULT_MEMORY_POOL`` chooses. Ingest allocates and frees a block's worth of
    arrays per batch on several threads; jemalloc gives that memory back sooner than the
    default pool (mimalloc): a 500 MB upload peaks some 25 MB lower."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        with contextlib.suppress(NotImplementedError):
            return pa.jemalloc_memory_pool()
    return pa.default_memory_pool()


POOL = _memory_pool()


@dataclass
class TableSummary:
    row_count: int = 0
    columns: list[dict[str, str]] = field(default_factory=list)
    ground_truth: bool = False


def _check_columns(names: list[str]) -> None:
    seen: set[str] = set()
    duplicates = sorted({name for name in names if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise invalid_dataset(f"duplicate column names: {', '.join(duplicates)}")
    if EXAMPLES not in names:
        raise invalid_dataset(f"required column '{EXAMPLES}' is missing (columns: {', '.join(names)})")


def _as_text_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``examples`` and ``ground_truth`` are text whatever the source typed them as."""
    arrays = []
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        if name in TEXT_COLUMNS and not pa.types.is_string(array.type):
            if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
                raise invalid_dataset(f"column '{name}' is not UTF-8 text")
            array = pc.cast(array, pa.string(), memory_pool=POOL)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _blank_count(array: pa.Array) -> int:
    """Values that are missing, empty or only whitespace. (Comparing with a Python ``""``
    would make pyarrow import pandas, some 30 MB, just to rule out that it is a pandas
    object.)"""
    non_empty = pc.cast(pc.binary_length(array, memory_pool=POOL), pa.bool_(), memory_pool=POOL)
    filled = pc.and_(non_empty, pc.invert(pc.utf8_is_space(array, memory_pool=POOL), memory_pool=POOL))
    return len(array) - int(pc.sum(filled, memory_pool=POOL).as_py() or 0)


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
        raise invalid_dataset(f"file is not UTF-8 text (byte {exc.start} of the first block)") from exc
    first_line_end = 0
    reader = csv.reader(io.StringIO(text))
    try:
        names = next(reader)
        first_line_end = reader.line_num
    except (StopIteration, csv.Error) as exc:
        raise invalid_dataset("cannot read the CSV header row") from exc
    if first_line_end == 0 or not names:
        raise invalid_dataset("the CSV header row is empty")
    return [name.strip() for name in names]


def _csv_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    rows = cast(BinaryIO, WholeRows(Utf8CheckingReader(source), quoting=True))
    head = _read_head(rows)
    if not head:
        raise invalid_dataset("file is empty")
    names = _csv_header(head)
    _check_columns(names)
    paced = PacedReader(ReplayReader(head, rows))
    reader = pa_csv.open_csv(
        paced,
        # Parsing on the calling thread costs less CPU than Arrow's threads, and the
        # Parquet compression that follows each batch is the slower step anyway.
        read_options=pa_csv.ReadOptions(block_size=READ_SIZE, use_threads=False),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, check_utf8=False, strings_can_be_null=False
        ),
        memory_pool=POOL,
    )
    yield from paced.batches(reader)


def _jsonl_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    lines = cast(BinaryIO, JsonDepthLimit(WholeRows(Utf8CheckingReader(source), quoting=False)))
    head = _read_head(lines)
    if not head.strip():
        raise invalid_dataset("file is empty")
    paced = PacedReader(ReplayReader(head, lines))
    options = pa_json.ReadOptions(block_size=READ_SIZE)
    reader = pa_json.open_json(paced, read_options=options, memory_pool=POOL)
    for batch in paced.batches(reader):
        _check_columns(batch.schema.names)
        yield batch


def _parquet_batches(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    with tempfile.TemporaryFile() as spool:
        while chunk := source.read(READ_SIZE):
            spool.write(chunk)
        if spool.tell() == 0:
            raise invalid_dataset("file is empty")
        spool.seek(0)
        parquet = pq.ParquetFile(spool)
        _check_columns(parquet.schema_arrow.names)
        yield from parquet.iter_batches(batch_size=65536)


READERS = {"csv": _csv_batches, "jsonl": _jsonl_batches, "parquet": _parquet_batches}


def _parquet_writer(sink: ObjectWriter, schema: pa.Schema) -> pq.ParquetWriter:
    """zstd (level 1): the smallest output for the time among Parquet's codecs on text.
    Min/max statistics of text columns are skipped: they would copy up to 4 KB of text per
    column and row group into the footer and prune nothing."""
    with_statistics = [field.name for field in schema if not _is_text(field.type)]
    return pq.ParquetWriter(
        sink,
        schema,
        compression="zstd",
        compression_level=1,
        write_statistics=with_statistics,
        memory_pool=POOL,
    )


def _is_text(type_: pa.DataType) -> bool:
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    return any(is_kind(type_) for is_kind in kinds)


def convert_table(source_format: str, source: BinaryIO, sink: ObjectWriter) -> TableSummary:
    """Read every batch of ``source``, check it, and write the canonical Parquet to ``sink``."""
    summary = TableSummary()
    blank_ground_truth = 0
    writer: pq.ParquetWriter | None = None
    row_group: list[pa.RecordBatch] = []
    row_group_bytes = 0
    try:
        for raw_batch in READERS[source_format](source):
            batch = _as_text_columns(raw_batch)
            if writer is None:
                writer = _parquet_writer(sink, batch.schema)
                summary.columns = [{"name": f.name, "type": str(f.type)} for f in batch.schema]
            elif batch.schema != writer.schema:
                raise invalid_dataset(
                    f"row {summary.row_count + 1} onwards has other columns or types than the start"
                )
            if batch.num_rows == 0:
                continue
            row_group.append(batch)
            row_group_bytes += batch.nbytes
            if row_group_bytes >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(row_group))
                row_group.clear()
                row_group_bytes = 0
            summary.row_count += batch.num_rows
            if GROUND_TRUTH in batch.schema.names:
                blank_ground_truth += _blank_count(batch.column(GROUND_TRUTH))
        if writer is not None and row_group:
            writer.write_table(pa.Table.from_batches(row_group))
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "UTF-8" in text or "utf8" in text:
            raise invalid_dataset("file is not UTF-8 text") from exc
        if "straddl" in text:
            limit = MAX_ROW_BYTES // (1024 * 1024)
            raise invalid_dataset(
                f"a row of the {source_format.upper()} file is longer than {limit} MiB"
            ) from exc
        raise invalid_dataset(f"cannot parse the {source_format.upper()} file: {text}") from exc
    finally:
        if writer is not None:
            writer.close()
    if summary.row_count == 0:
        raise invalid_dataset("the table has no rows")
    has_column = any(column["name"] == GROUND_TRUTH for column in summary.columns)
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
    if GROUND_TRUTH in names and summary.row_count:
        blanks = sum(
            _blank_count(pc.cast(batch.column(0), pa.string()))
            for batch in parquet.iter_batches(columns=[GROUND_TRUTH])
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
            raise invalid_dataset("the parser stopped before the end of the file")
