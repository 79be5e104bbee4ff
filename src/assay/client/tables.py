"""What a dataset or file upload sends, from a path, bytes, a pyarrow or pandas table or a
list of rows, and how a page of rows becomes a pandas DataFrame (pandas is optional)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas
    import pyarrow

Progress: TypeAlias = Callable[[int, int], None]
"""Called with (bytes sent, bytes in all) as an upload goes."""
TableSource: TypeAlias = (
    "str | os.PathLike[str] | bytes | Sequence[Mapping[str, Any]] | pyarrow.Table | pandas.DataFrame"
)


def content_hash(path: str | os.PathLike[str]) -> str:
    """The SHA-256 the server records for an upload of this file (``DatasetDetail.sha256``)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


class ProgressReader:
    """A binary file that reports how much of it has been read: httpx reads the multipart
    parts through ``read``, in the sync and the async client alike."""

    def __init__(self, file: IO[bytes], total: int, progress: Progress) -> None:
        self._file = file
        self._total = total
        self._progress = progress
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._done += len(chunk)
        self._progress(self._done, self._total)
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _as_parquet(source: object) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, pa.Table):
        table = source
    elif isinstance(source, Sequence):
        table = pa.Table.from_pylist([dict(row) for row in source])
    elif type(source).__module__.startswith("pandas"):
        table = pa.Table.from_pandas(source, preserve_index=False)
    else:
        raise TypeError(f"cannot upload a {type(source).__name__}: give a path, bytes, rows or a table")
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@contextmanager
def upload_part(
    source: TableSource, name: str | None, default_name: str, progress: Progress | None
) -> Iterator[tuple[str, IO[bytes]]]:
    """``(file name, open binary file)`` for a multipart part; a path is streamed, not read
    into memory, and closed when the upload ends."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        file: IO[bytes] = path.open("rb")
        filename, total = name or path.name, path.stat().st_size
    else:
        content = source if isinstance(source, bytes) else _as_parquet(source)
        file, filename, total = io.BytesIO(content), name or default_name, len(content)
    with file:
        yield filename, ProgressReader(file, total, progress) if progress else file  # type: ignore[misc]


def to_frame(columns: list[str], rows: list[dict[str, Any]]) -> pandas.DataFrame:
    try:
        import pandas
    except ImportError:
        raise ImportError("a DataFrame preview needs pandas: pip install pandas (or use rows())") from None
    return pandas.DataFrame(rows, columns=columns)
