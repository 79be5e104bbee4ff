"""Object store on any S3 endpoint (SeaweedFS, MinIO, AWS)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter, StorageError
from assay.storage.ranges import RangeReader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Parts of at least S3's minimum of 5 MiB. S3 takes at most 10,000 parts, so every thousand
# parts the minimum grows by PART_SIZE (up to 268 GiB in all).
PART_SIZE = 5 * 1024 * 1024
PARTS_PER_SIZE_STEP = 1000
MAX_PARTS_IN_FLIGHT = 2
# Threads that send parts, shared by every upload of a store: long-lived threads keep the
# memory that the allocator sets aside per thread from growing with each upload.
PART_THREADS = 8
READ_BUFFER = 1024 * 1024


@contextmanager
def _storage_errors(action: str, key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise KeyError(key) from exc
        raise StorageError(f"S3 refused to {action} {key!r}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 failed to {action} {key!r}: {exc}") from exc


class _Body:
    """Pieces of bytes as one file-like request body, read without copies.

    A part is sent from the pieces written, never joined into one buffer; reads return views,
    which hashing and ``socket.sendall`` take as they are. botocore wraps ``bytes`` bodies in
    ``BytesIO`` and keeps its request objects in reference cycles, so each part sent would
    stay in memory until the next full garbage collection: this body lets go of its bytes as
    soon as the request is done (``release``)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = [memoryview(piece) for piece in pieces if piece]
        self._size = sum(len(piece) for piece in self._pieces)
        self._index = 0  # the piece that holds the position
        self._offset = 0  # the position within that piece
        self._position = 0

    def __len__(self) -> int:
        return self._size - self._position

    def read(self, size: int | None = -1) -> memoryview | bytes:
        """Up to ``size`` bytes, from one piece only (all that is left when ``size < 0``)."""
        if size is None or size < 0:
            rest = b"".join(self._pieces[self._index :])[self._offset :]
            self.seek(0, io.SEEK_END)
            return rest
        if self._index >= len(self._pieces) or size == 0:
            return b""
        piece = self._pieces[self._index]
        chunk = piece[self._offset : self._offset + size]
        self._offset += len(chunk)
        self._position += len(chunk)
        if self._offset == len(piece):
            self._index += 1
            self._offset = 0
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = min(max(0, base + offset), self._size)
        self._index, self._offset = 0, self._position
        while self._index < len(self._pieces) and self._offset >= len(self._pieces[self._index]):
            self._offset -= len(self._pieces[self._index])
            self._index += 1
        return self._position

    def tell(self) -> int:
        return self._position

    def release(self) -> None:
        self._pieces = []
        self._size = self._index = self._offset = self._position = 0


class S3ObjectWriter(ObjectWriter):
    """Multipart upload: parts of ``PART_SIZE`` or more are sent by a small thread pool while
    the caller keeps writing; at most ``MAX_PARTS_IN_FLIGHT`` parts are held in memory.

    ``bytes`` written are kept by reference (other types are copied) and sent as they are,
    never joined into one buffer: do not change them afterwards."""

    def __init__(self, store: S3ObjectStore, key: str, content_type: str | None) -> None:
        self._store = store
        self._key = key
        self._content_type = content_type or "application/octet-stream"
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(MAX_PARTS_IN_FLIGHT)

    def _append(self, data: bytes | bytearray | memoryview) -> None:
        self._pending.append(data if type(data) is bytes else bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= PART_SIZE * (1 + len(self._parts) // PARTS_PER_SIZE_STEP):
            self._send_part(self._take_pending())

    def _take_pending(self) -> list[bytes]:
        pieces = self._pending
        self._pending = []
        self._pending_size = 0
        return pieces

    def _send_part(self, pieces: list[bytes]) -> None:
        if self._upload_id is None:
            with _storage_errors("start an upload of", self._key):
                created = self._store.client.create_multipart_upload(
                    Bucket=self._store.bucket,
                    Key=self._store.full_key(self._key),
                    ContentType=self._content_type,
                )
            self._upload_id = created["UploadId"]
        self._raise_failed_parts()
        self._slots.acquire()
        number = len(self._parts) + 1
        future = self._store.part_pool.submit(self._upload_part, number, pieces)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, pieces: list[bytes]) -> dict[str, Any]:
        assert self._upload_id is not None
        body = _Body(pieces)
        pieces.clear()
        try:
            with _storage_errors("upload a part of", self._key):
                response = self._store.client.upload_part(
                    Bucket=self._store.bucket,
                    Key=self._store.full_key(self._key),
                    UploadId=self._upload_id,
                    PartNumber=number,
                    Body=body,  # type: ignore[arg-type]
                )
        finally:
            body.release()
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _raise_failed_parts(self) -> None:
        for future in self._parts:
            if future.done() and future.exception() is not None:
                raise cast(BaseException, future.exception())

    def commit(self) -> ObjectInfo:
        if self._upload_id is None:
            body = _Body(self._take_pending())
            try:
                with _storage_errors("write", self._key):
                    self._store.client.put_object(
                        Bucket=self._store.bucket,
                        Key=self._store.full_key(self._key),
                        Body=body,  # type: ignore[arg-type]
                        ContentType=self._content_type,
                    )
            finally:
                body.release()
            return ObjectInfo(self._key, self._written)
        if self._pending:
            self._send_part(self._take_pending())
        parts = [future.result() for future in self._parts]
        with _storage_errors("complete the upload of", self._key):
            self._store.client.complete_multipart_upload(
                Bucket=self._store.bucket,
                Key=self._store.full_key(self._key),
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        return ObjectInfo(self._key, self._written)

    def abort(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        if self._upload_id is None:
            return
        for future in self._parts:
            future.cancel()
        wait(self._parts)  # no part may land after the abort
        with _storage_errors("abort the upload of", self._key):
            self._store.client.abort_multipart_upload(
                Bucket=self._store.bucket, Key=self._store.full_key(self._key), UploadId=self._upload_id
            )
        self._upload_id = None


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(
            # Bodies are not hashed into the signature (UNSIGNED-PAYLOAD, as AWS's SDKs do for
            # streamed uploads): that SHA-256 pass costs about a tenth of a dataset upload's
            # CPU. Headers, and so the request itself, are still signed.
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            signature_version="s3v4",
            max_pool_connections=32,
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=60,
        )
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=config,
        )
        self.part_pool = ThreadPoolExecutor(PART_THREADS, thread_name_prefix="s3-part")

    def full_key(self, key: str) -> str:
        return self.prefix + key

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet (first start against a new server)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"cannot use bucket {self.bucket!r}: {exc}") from exc
            with _storage_errors("create bucket", self.bucket):
                self.client.create_bucket(Bucket=self.bucket)
        except BotoCoreError as exc:
            raise StorageError(f"S3 endpoint unreachable: {exc}") from exc

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        return S3ObjectWriter(self, key, content_type)

    def open_reader(self, key: str) -> BinaryIO:
        raw = RangeReader(self.stat(key).size, lambda start, end: self._read_range(key, start, end))
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=READ_BUFFER))

    def _read_range(self, key: str, start: int, end: int) -> bytes:
        with _storage_errors("read", key):
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.full_key(key), Range=f"bytes={start}-{end}"
            )
            return response["Body"].read()

    def iter_chunks(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        with _storage_errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))["Body"]
            yield from body.iter_chunks(chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        with _storage_errors("read", key):
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        return ObjectInfo(key=key, size=head["ContentLength"])

    def list(self, prefix: str) -> list[ObjectInfo]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        with _storage_errors("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.full_key(prefix)):
                for item in page.get("Contents", []):
                    found.append(ObjectInfo(key=item["Key"][len(self.prefix) :], size=item["Size"]))
        return found

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self.full_key(key)} for key in keys[start : start + 1000]]
            with _storage_errors("delete", prefix):
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
        return len(keys)

    def presigned_url(self, key: str, filename: str, expires_in: int) -> str | None:
        safe = filename.replace('"', "")
        with _storage_errors("sign a link to", key):
            return self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self.full_key(key),
                    "ResponseContentDisposition": f'attachment; filename="{safe}"',
                },
                ExpiresIn=expires_in,
            )

    def check(self) -> None:
        with _storage_errors("reach bucket", self.bucket):
            self.client.head_bucket(Bucket=self.bucket)
