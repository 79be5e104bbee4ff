"""What a job may do through the internal job API, once its credential named it.

Every operation is checked against the job's scope (``job_scope``); objects stream through in
pieces, never whole, so the API holds no more than a chunk of any object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from assay.errors import InvalidInputError, NotFoundError
from assay.records import JobRecord, SecretRecord
from assay.repositories.secrets import SecretRepository
from assay.schemas.jobs import JobConfig
from assay.security.destinations import check_destination
from assay.security.secret_box import SecretBox
from assay.services.job_scope import scope_of
from assay.services.jobs import secret_destinations
from assay.storage import ObjectInfo, ObjectStore, ObjectWriter

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectRead:
    """Bytes ``start``..``end`` (inclusive) of an object of ``size`` bytes."""

    size: int
    start: int
    end: int
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class ApiKey:
    name: str
    value: str


JOB_CONFIGS: TypeAdapter[JobConfig] = TypeAdapter(JobConfig)


def check_secret_destination(job: JobRecord, secret: SecretRecord) -> None:
    """The submission-time rule again when the key leaves the server: the secret's allowed
    hosts may have shrunk since the job was created."""
    config = JOB_CONFIGS.validate_python(job.config)
    for provider, base_url in secret_destinations(config):
        check_destination(secret.name, secret.allowed_hosts, provider, base_url)


class JobAccess:
    def __init__(self, session: Session, store: ObjectStore, box: SecretBox) -> None:
        self.session = session
        self.store = store
        self.box = box

    def api_key(self, job: JobRecord) -> ApiKey:
        """The provider key named in the job's own config, decrypted for the job alone."""
        name = str(job.config.get("secret_key_name") or "").strip().lower()
        record = SecretRepository(self.session).get(job.project_id, name) if name else None
        if record is None:
            raise NotFoundError("this job has no secret", field="secret_key_name")
        check_secret_destination(job, record)
        return ApiKey(name, self.box.open(record.ciphertext))

    def read(self, job: JobRecord, key: str, first: int | None, last: int | None) -> ObjectRead:
        """The object, or the range ``first``..``last`` of it (HTTP Range semantics; a
        missing ``first`` means the last ``last`` bytes)."""
        scope_of(self.session, job).require_read(key)
        size = self._stat(key).size
        start, end = 0, size - 1
        if first is not None:
            start, end = first, min(size - 1, last if last is not None else size - 1)
        elif last is not None:
            start = max(0, size - last)
        if start > end and size > 0:
            raise InvalidInputError(
                f"range {first}-{last} is outside the object's {size} bytes", field="Range"
            )
        return ObjectRead(size, start, end, self._chunks(key, start, end))

    def _chunks(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with self.store.open_reader(key) as reader:
            reader.seek(start)
            remaining = end - start + 1
            while remaining > 0 and (chunk := reader.read(min(CHUNK, remaining))):
                remaining -= len(chunk)
                yield chunk

    def stat(self, job: JobRecord, key: str) -> ObjectInfo:
        scope_of(self.session, job).require_read(key)
        return self._stat(key)

    def _stat(self, key: str) -> ObjectInfo:
        try:
            return self.store.stat(key)
        except KeyError:
            raise NotFoundError(f"object {key!r} does not exist", field="key") from None

    def open_writer(self, job: JobRecord, key: str, content_type: str | None) -> ObjectWriter:
        scope_of(self.session, job).require_write(key)
        return self.store.open_writer(key, content_type)

    def list(self, job: JobRecord, prefix: str) -> list[ObjectInfo]:
        scope_of(self.session, job).require_prefix(prefix)
        return self.store.list(prefix)

    def delete_prefix(self, job: JobRecord, prefix: str) -> int:
        scope_of(self.session, job).require_prefix(prefix)
        return self.store.delete_prefix(prefix)
