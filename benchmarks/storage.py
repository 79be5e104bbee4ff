"""What keeping CSV and JSONL originals zstd-compressed saves a user, in stored bytes.

Builds a dataset of real English prose (the documentation topics that ship with Python, one
paragraph per row, its first sentence as the reference: the shape of a summarization set), as
CSV and as JSONL, and prints for each the size as uploaded, as Assay stores the original
(``storage/zstd.py``, zstd level 1, through the same writer the upload uses), and, for
reference, gzip level 6 (what an object store that compresses text itself, as SeaweedFS does,
would keep; AWS S3, MinIO and a local folder keep the bytes as sent) and the canonical Parquet
copy that is stored beside it.

    .venv/bin/python benchmarks/storage.py
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from pathlib import Path
from pydoc_data.topics import topics

from assay.api.multipart import BLOCK_SIZE
from assay.datasets.ingest import TableIngest
from assay.storage import zstd
from assay.storage.local import LocalObjectStore


def rows() -> list[dict[str, str]]:
    paragraphs = [p.strip() for text in topics.values() for p in text.split("\n\n") if len(p.strip()) > 200]
    return [
        {"examples": " ".join(p.split()), "ground_truth": re.split(r"(?<=[.!?])\s", " ".join(p.split()))[0]}
        for p in paragraphs
    ]


def as_csv(table: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue().encode()


def as_jsonl(table: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in table).encode()


def stored(store: LocalObjectStore, name: str, data: bytes, source_format: str) -> tuple[int, int]:
    """The original's size as Assay keeps it, and the canonical Parquet copy's."""
    writer = zstd.ZstdObjectWriter(store.open_writer(f"{name}.zst"))
    parquet = store.open_writer(f"{name}.parquet")
    ingest = TableIngest(source_format, parquet)
    for start in range(0, len(data), BLOCK_SIZE):  # the blocks an upload arrives in
        writer.write(data[start : start + BLOCK_SIZE])
        ingest.feed(data[start : start + BLOCK_SIZE])
    ingest.finish()
    return writer.commit().size, parquet.commit().size


def main() -> None:
    table = rows()
    with tempfile.TemporaryDirectory() as folder:
        store = LocalObjectStore(Path(folder))
        print(f"{len(table)} rows of English prose")
        print(f"{'format':8}{'uploaded':>12}{'zstd-1 (ours)':>16}{'gzip-6 (ref.)':>16}{'Parquet copy':>15}")
        for name, data in (("csv", as_csv(table)), ("jsonl", as_jsonl(table))):
            ours, parquet = stored(store, name, data, name)
            reference = len(gzip.compress(data, 6))
            print(
                f"{name:8}{len(data):>12,}{ours:>11,} {ours / len(data):4.0%}"
                f"{reference:>11,} {reference / len(data):4.0%}{parquet:>15,}"
            )


if __name__ == "__main__":
    main()
