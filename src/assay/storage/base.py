"""The object-store contract every implementation satisfies.

All methods are synchronous and streaming: callers in async code run them in a worker thread.
Keys are ``/``-separated relative paths; a prefix ends with ``/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from assay.errors import StorageError

__all__ = ["ObjectInfo", "ObjectStore", "ObjectWriter", "StorageError"]


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ObjectWriter(ABC):
    """A streaming upload: bytes are sent as they are written, never held whole in memory.

    Nothing is visible under the key until ``commit()``; ``abort()`` leaves nothing behind.
    """

    _written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append bytes; returns how many were taken (always all of them)."""
        size = len(data)
        if size:
            self._append(data)
            self._written += size
        return size

    @abstractmethod
    def _append(self, data: bytes | bytearray | memoryview) -> None:
        """Take ``data`` (never empty) on its way to the object."""

    @abstractmethod
    def commit(self) -> ObjectInfo:
        """Make the object visible under its key and return its final size."""

    @abstractmethod
    def abort(self) -> None:
        """Discard everything written so far. Safe to call after a failed ``commit()``."""

    @property
    def closed(self) -> bool:
        """Part of the file protocol, so that writers such as Parquet's accept this object."""
        return False

    def flush(self) -> None:  # noqa: B027 - intentionally a no-op
        """Buffers are flushed by ``commit()``; present for the file protocol."""

    def tell(self) -> int:
        return self.bytes_written

    @property
    def bytes_written(self) -> int:
        """Bytes accepted by ``write()`` so far."""
        return self._written


class ObjectStore(ABC):
    """Where Assay keeps every blob: uploads, canonical datasets, results."""

    @abstractmethod
    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        """Start a streaming upload to ``key``."""

    @abstractmethod
    def open_reader(self, key: str) -> BinaryIO:
        """A seekable, buffered binary file over the object (random access for Parquet)."""

    def iter_chunks(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The object's bytes in order, ``chunk_size`` at a time."""
        with self.open_reader(key) as reader:
            while chunk := reader.read(chunk_size):
                yield chunk

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size of an existing object; raises ``KeyError`` if it does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many went. Idempotent."""

    @abstractmethod
    def presigned_url(self, key: str, filename: str, expires_in: int) -> str | None:
        """A URL that downloads the object directly, or ``None`` when the API must serve it."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (used by the health route)."""
