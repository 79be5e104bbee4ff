"""Read one page of rows from a Parquet object, touching only the row groups that hold it."""

from __future__ import annotations

from typing import Any, BinaryIO

import pyarrow as pa
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
