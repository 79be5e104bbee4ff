"""Read a Parquet object: one page of rows, touching only the row groups that hold it, or the
whole table as CSV, streamed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


def read_rows(source: BinaryIO, offset: int, limit: int) -> tuple[list[str], list[dict[str, Any]], int]:
    """Columns, the rows ``offset .. offset+limit`` and the table's total row count."""
    parquet = pq.ParquetFile(source)
    total = parquet.metadata.num_rows
    columns = parquet.schema_arrow.names
    wanted: list[int] = []
    first_row_of_selection = 0
    start = 0
    for index in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(index).num_rows
        if start + count > offset and start < offset + limit:
            if not wanted:
                first_row_of_selection = start
            wanted.append(index)
        start += count
    if not wanted or limit == 0:
        return columns, [], total
    table: pa.Table = parquet.read_row_groups(wanted)
    page = table.slice(offset - first_row_of_selection, limit)
    return columns, page.to_pylist(), total


def iter_csv(source: BinaryIO, rows_per_chunk: int = 2048) -> Iterator[bytes]:
    """A Parquet table as CSV (header first), a few thousand rows at a time, so that a large
    table is sent without being held in memory."""
    parquet = pq.ParquetFile(source)
    buffer = io.BytesIO()
    with pa_csv.CSVWriter(buffer, parquet.schema_arrow) as writer:
        for batch in parquet.iter_batches(batch_size=rows_per_chunk):
            writer.write_batch(batch)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
