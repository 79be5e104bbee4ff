"""Object store on any S3 endpoint (SeaweedFS, MinIO, AWS)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Parts of at least S3's minimum of 5 MiB: a block of the upload route becomes one part as it
# is, without being copied. S3 takes at most 10,000 parts, so every thousand parts the
# minimum grows by PART_SIZE (up to 268 GiB in all).
PART_SIZE = 5 * 1024 * 1024
PARTS_PER_SIZE_STEP = 1000
MAX_PARTS_IN_FLIGHT = 3
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
    """Bytes as the file-like request body botocore wants, read without copies.

    botocore wraps ``bytes`` bodies in ``BytesIO`` and keeps its request objects in reference
    cycles, so every part sent stays in memory until the next full garbage collection; this
    body lets go of its bytes as soon as the request is done (``release``). Reads return
    views, which hashing and ``socket.sendall`` take as they are."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._position = 0

    def __len__(self) -> int:
        return len(self._view) - self._position

    def read(self, size: int | None = -1) -> memoryview:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        chunk = self._view[self._position : end]
        self._position = max(self._position, end)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = min(max(0, base + offset), len(self._view))
        return self._position

    def tell(self) -> int:
        return self._position

    def release(self) -> None:
        self._view = memoryview(b"")
        self._position = 0


class S3ObjectWriter(ObjectWriter):
    """Multipart upload: parts of ``PART_SIZE`` or more are sent by a small thread pool while
    the caller keeps writing; at most ``MAX_PARTS_IN_FLIGHT`` parts are held in memory.

    ``bytes`` written are kept by reference until their part goes: a large one is sent as it
    is, small ones are joined into one part (the only copy)."""

    def __init__(self, store: S3ObjectStore, key: str, content_type: str | None) -> None:
        self._store = store
        self._key = key
        self._content_type = content_type or "application/octet-stream"
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._written = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(MAX_PARTS_IN_FLIGHT)
        self._pool: ThreadPoolExecutor | None = None

    @property
    def bytes_written(self) -> int:
        return self._written

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        if size:
            self._pending.append(data if type(data) is bytes else bytes(data))
            self._pending_size += size
            self._written += size
        if self._pending_size >= PART_SIZE * (1 + len(self._parts) // PARTS_PER_SIZE_STEP):
            self._send_part(self._take_pending())
        return size

    def _take_pending(self) -> bytes:
        body = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return body

    def _send_part(self, body: bytes) -> None:
        if self._upload_id is None:
            with _storage_errors("start an upload of", self._key):
                created = self._store.client.create_multipart_upload(
                    Bucket=self._store.bucket,
                    Key=self._store.full_key(self._key),
                    ContentType=self._content_type,
                )
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(MAX_PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
        assert self._pool is not None
        self._raise_failed_parts()
        self._slots.acquire()
        number = len(self._parts) + 1
        future = self._pool.submit(self._upload_part, number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        assert self._upload_id is not None
        body = _Body(data)
        del data
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
        self._shutdown()
        return ObjectInfo(self._key, self._written)

    def abort(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        if self._upload_id is None:
            return
        for future in self._parts:
            future.cancel()
        self._shutdown()
        with _storage_errors("abort the upload of", self._key):
            self._store.client.abort_multipart_upload(
                Bucket=self._store.bucket, Key=self._store.full_key(self._key), UploadId=self._upload_id
            )
        self._upload_id = None

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class S3RangeReader(io.RawIOBase):
    """Random access to an object through ranged GETs, for readers that seek (Parquet)."""

    def __init__(self, store: S3ObjectStore, key: str) -> None:
        self._store = store
        self._key = key
        self._position = 0
        self._size = store.stat(key).size

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
        with _storage_errors("read", self._key):
            response = self._store.client.get_object(
                Bucket=self._store.bucket,
                Key=self._store.full_key(self._key),
                Range=f"bytes={self._position}-{end}",
            )
            data = response["Body"].read()
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


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
            s3={"addressing_style": "path"},
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
        return cast(BinaryIO, io.BufferedReader(S3RangeReader(self, key), buffer_size=READ_BUFFER))

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
