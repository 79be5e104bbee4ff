"""Object store over Assay's internal job API: what job entrypoints use instead of storage
credentials. Every call carries the job's session token and the server checks that the key is
one of the job's own; inference, evaluation and the response cache see a plain ``ObjectStore``.

Reads seek with ranged GETs (Parquet reads the footer, then column chunks). Writes are kept
in a spooled temporary file (memory up to ``SPOOL_MEMORY``, then disk) and sent as one
streamed PUT on ``commit()``: an object appears whole or not at all, and no request stays open
for the hours a long job may take to write its predictions.

A job outlives a restart of the API (an upgrade, a crash): every call is retried for up to
``RETRY_WINDOW_S`` while the API is unreachable or answers 502/503/504. All calls but the
claim are idempotent (whole-object PUTs, ranged GETs, prefix DELETEs), so a retry after a
lost answer does no harm.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast
from urllib.parse import quote

import httpx

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter, StorageError
from assay.storage.ranges import RangeReader

READ_BUFFER = 1024 * 1024
SEND_CHUNK = 1024 * 1024
SPOOL_MEMORY = 8 * 1024 * 1024
RETRY_WINDOW_S = 180.0
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_DELAY_S = 5.0


def _object_path(key: str) -> str:
    return "objects/" + quote(key, safe="/")


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    idempotent: bool = True,
    body: Callable[[], Iterator[bytes]] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send, retrying while the API is away; a request that is not idempotent is retried
    only when it cannot have reached the API (the connection was refused)."""
    deadline = time.monotonic() + RETRY_WINDOW_S
    delay = 0.25
    retryable: tuple[type[Exception], ...] = (httpx.TransportError,) if idempotent else (httpx.ConnectError,)
    while True:
        content = body() if body is not None else None
        try:
            response = client.request(method, url, content=content, params=params, headers=headers)
        except retryable:
            if time.monotonic() + delay > deadline:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or time.monotonic() + delay > deadline:
                return response
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)


def _checked(response: httpx.Response, key: str) -> httpx.Response:
    if response.status_code == 404:
        raise KeyError(key)
    if response.status_code >= 400:
        response.read()
        raise StorageError(f"the job API refused {key!r}: {response.status_code} {response.text[:500]}")
    return response


class JobApiWriter(ObjectWriter):
    def __init__(self, store: JobApiStore, key: str, content_type: str | None) -> None:
        self._store = store
        self._key = key
        self._content_type = content_type or "application/octet-stream"
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - closed by commit/abort

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        self._spool.write(data)

    def _body(self) -> Iterator[bytes]:
        self._spool.seek(0)
        while chunk := self._spool.read(SEND_CHUNK):
            yield chunk

    def commit(self) -> ObjectInfo:
        try:
            response = self._store.request(
                "PUT",
                _object_path(self._key),
                self._key,
                body=self._body,
                headers={"Content-Type": self._content_type},
            )
        finally:
            self._spool.close()
        return ObjectInfo(self._key, int(response.json()["size"]))

    def abort(self) -> None:
        self._spool.close()


class JobApiStore(ObjectStore):
    def __init__(self, client: httpx.Client) -> None:
        """``client`` has the job API (``…/api/v1/job/``) as base URL and the job's token."""
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        key: str,
        *,
        body: Callable[[], Iterator[bytes]] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = send(self.client, method, path, body=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise StorageError(f"the job API is unreachable for {key!r}: {exc}") from exc
        return _checked(response, key)

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        return JobApiWriter(self, key, content_type)

    def open_reader(self, key: str) -> BinaryIO:
        raw = RangeReader(self.stat(key).size, lambda start, end: self._read_range(key, start, end))
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=READ_BUFFER))

    def _read_range(self, key: str, start: int, end: int) -> bytes:
        return self.request("GET", _object_path(key), key, headers={"Range": f"bytes={start}-{end}"}).content

    def stat(self, key: str) -> ObjectInfo:
        response = self.request("HEAD", _object_path(key), key)
        return ObjectInfo(key=key, size=int(response.headers["content-length"]))

    def list(self, prefix: str) -> list[ObjectInfo]:
        response = self.request("GET", "objects", prefix, params={"prefix": prefix})
        return [ObjectInfo(key=item["key"], size=item["size"]) for item in response.json()["items"]]

    def delete_prefix(self, prefix: str) -> int:
        return int(self.request("DELETE", "objects", prefix, params={"prefix": prefix}).json()["deleted"])

    def presigned_url(self, key: str, filename: str, expires_in: int) -> str | None:
        return None

    def check(self) -> None:
        self.request("GET", str(self.client.base_url.join("/api/v1/health")), "health")
