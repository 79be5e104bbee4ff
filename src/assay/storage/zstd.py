"""Objects kept zstd-compressed at rest, and read back as the bytes that were written.

Uploaded text (CSV, JSONL) takes about a third of the space compressed, and zstd at level 1
costs the API a fifth of what an object store that compresses text itself spends on it
(SeaweedFS gzips text): for a dataset upload on a small machine that is the difference
between the server's CPU and ours setting the pace (``benchmarks/upload.py``).

Each ``write`` becomes one zstd frame; a series of frames is itself a valid zstd stream, so
any zstd tool reads the object whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter

SUFFIX = ".zst"
CONTENT_TYPE = "application/zstd"
LEVEL = 1
READ_SIZE = 1024 * 1024


def compressed_key(key: str) -> str:
    return key + SUFFIX


def is_compressed(key: str) -> bool:
    return key.endswith(SUFFIX)


class ZstdObjectWriter(ObjectWriter):
    """Compresses what is written, frame by frame, into ``inner``. ``bytes_written`` counts
    the bytes before compression; ``commit`` returns the stored size."""

    def __init__(self, inner: ObjectWriter) -> None:
        self._inner = inner
        self._codec = pa.Codec("zstd", compression_level=LEVEL)

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        # pyarrow releases the GIL while it compresses.
        self._inner.write(self._codec.compress(data, asbytes=True))

    def commit(self) -> ObjectInfo:
        return self._inner.commit()

    def abort(self) -> None:
        self._inner.abort()


def iter_decompressed(store: ObjectStore, key: str, chunk_size: int = READ_SIZE) -> Iterator[bytes]:
    """The bytes that were written to ``key`` through a ``ZstdObjectWriter``, streamed."""
    with store.open_reader(key) as raw, pa.CompressedInputStream(raw, "zstd") as stream:
        while chunk := stream.read(chunk_size):
            yield chunk
