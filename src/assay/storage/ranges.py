"""Random access to a remote object through ranged reads, for readers that seek (Parquet)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

# fetch(start, end) returns the bytes start..end inclusive (HTTP Range semantics).
Fetch = Callable[[int, int], bytes]


class RangeReader(io.RawIOBase):
    def __init__(self, size: int, fetch: Fetch) -> None:
        self._size = size
        self._fetch = fetch
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._position >= self._size or len(view) == 0:
            return 0
        end = min(self._position + len(view), self._size) - 1
        data = self._fetch(self._position, end)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)
