"""Object store on a local folder (embedded mode)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter


class LocalObjectWriter(ObjectWriter):
    """Writes to a hidden temporary file beside the target; ``commit`` renames it atomically."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
        self._file = os.fdopen(handle, "wb", buffering=1024 * 1024)
        self._temp = Path(temp_name)
        self._target = target

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def commit(self) -> ObjectInfo:
        self._file.close()
        os.replace(self._temp, self._target)
        return ObjectInfo(key=self._target.name, size=self._written)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        """The file behind ``key``; refuses keys that would escape the root."""
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        return LocalObjectWriter(self.path_of(key))

    def open_reader(self, key: str) -> BinaryIO:
        try:
            return self.path_of(key).open("rb")
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def stat(self, key: str) -> ObjectInfo:
        path = self.path_of(key)
        if not path.is_file():
            raise KeyError(key)
        return ObjectInfo(key=key, size=path.stat().st_size)

    def list(self, prefix: str) -> list[ObjectInfo]:
        base = self.path_of(prefix)
        if not base.is_dir():
            return []
        found = []
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".upload-"):
                key = path.relative_to(self.root).as_posix()
                found.append(ObjectInfo(key=key, size=path.stat().st_size))
        return found

    def delete_prefix(self, prefix: str) -> int:
        """Deletes what it finds, as S3 does: a writer may add objects under the prefix at the
        same moment, and those survive instead of failing the delete (``rmtree`` raised
        "directory not empty" when a job wrote beside it)."""
        base = self.path_of(prefix)
        count = 0
        for folder, _, files in os.walk(base, topdown=False):
            for name in files:
                path = Path(folder, name)
                if path.exists() and not name.startswith(".upload-"):
                    count += 1
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                Path(folder).rmdir()
        return count

    def presigned_url(self, key: str, filename: str, expires_in: int) -> str | None:
        return None

    def check(self) -> None:
        """Proves the root is writable with a probe file of this call's own: one shared name
        made concurrent checks delete each other's probe and report the store down."""
        with tempfile.NamedTemporaryFile(prefix=".health-", dir=self.root) as probe:
            probe.write(b"ok")
            probe.flush()
