"""Versioned project files: streaming upload, versions, download, pruning.

Each version is its own object under ``layout.file_prefix``, written
before its row exists: the upload takes a lease on that prefix in the cleanup outbox, and the
transaction that inserts the row releases it, so a failed or interrupted upload leaves nothing.

Version numbers come from SQL, not from the object store: the row takes ``max(version) + 1``
and the unique constraint on (project, folder, name, version) refuses a number that a
concurrent upload took first; the loser retries with the next number. That holds on SQLite
(writers are serialised) and on PostgreSQL (the second insert waits for the first to commit,
then fails on the constraint), and across API replicas.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import PurePosixPath
from typing import Protocol

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooLargeError,
)
from assay.records import FileFolder, FileRecord, UserRecord
from assay.repositories.files import FileRepository
from assay.repositories.projects import ProjectRepository
from assay.repositories.services import ServiceRepository
from assay.services.audit import AuditTrail
from assay.services.cleanup import ObjectCleanupService, ObjectLease
from assay.storage import ObjectStore, ObjectWriter, StorageError, layout

UPLOAD_LEASE = dt.timedelta(hours=6)
# Each retry follows a commit by a concurrent upload of the same name, so this bounds the
# number of uploads of one name that can finish at the same moment.
VERSION_ATTEMPTS = 100
FILE_FIELD = "file"
OCTET_STREAM = "application/octet-stream"


class FileUpload(Protocol):
    """A file arriving over the network (``MultipartUpload``): its name and declared type
    first, then its bytes, then the other form fields."""

    filename: str
    content_type: str

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def fields(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class FileDownload:
    record: FileRecord
    chunks: Iterator[bytes]


def check_file_name(name: str) -> str:
    """Names are single path segments: folders are the only hierarchy, and a name can be put
    in a URL path and a download header as it is."""
    if not 1 <= len(name) <= 255 or name in (".", "..") or name != name.strip():
        raise InvalidInputError("file names are 1-255 characters without surrounding spaces", field="name")
    if any(ch in "/\\" or not ch.isprintable() for ch in name):
        raise InvalidInputError("file names may not contain '/', '\\' or control characters", field="name")
    return name


def check_folder(folder: str) -> FileFolder:
    try:
        return FileFolder(folder)
    except ValueError as exc:
        valid = ", ".join(FileFolder)
        raise InvalidInputError(f"unknown folder {folder!r}; valid folders: {valid}", field="folder") from exc


def _content_type(declared: str, name: str) -> str:
    if declared and declared.lower() != OCTET_STREAM:
        return declared[:255]
    return mimetypes.guess_type(name)[0] or OCTET_STREAM


class FileService:
    def __init__(self, session: Session, store: ObjectStore, settings: Settings) -> None:
        self.session = session
        self.store = store
        self.settings = settings
        self.files = FileRepository(session)
        self.projects = ProjectRepository(session)
        self.cleanup = ObjectCleanupService(session, store)
        self.audit = AuditTrail(session)

    async def upload(self, project_id: str, actor: UserRecord, upload: FileUpload) -> FileRecord:
        """Stream ``upload`` to storage (hashing it on the way) and record it as the next
        version of its name. Form fields: ``folder`` (default ``other``) and ``name``
        (default: the uploaded file's name)."""
        file_id = uuid.uuid4()
        prefix = layout.file_prefix(project_id, file_id)
        key = layout.file_content_key(prefix)
        async with ObjectLease(self.session, self.store, prefix, UPLOAD_LEASE) as lease:
            default_name = PurePosixPath(upload.filename.replace("\\", "/")).name
            content_type = _content_type(upload.content_type, default_name)
            writer = lease.track(self.store.open_writer(key, content_type))
            size, sha256 = await self._receive(upload.chunks(), writer)
            fields = await upload.fields()
            folder = check_folder(fields.get("folder") or FileFolder.OTHER)
            name = check_file_name(fields.get("name") or default_name)
            await anyio.to_thread.run_sync(writer.commit)
            record = FileRecord(
                id=file_id,
                project_id=project_id,
                folder=folder,
                name=name,
                size=size,
                sha256=sha256,
                content_type=content_type,
                object_key=key,
                created_by=actor.id,
            )
            return await anyio.to_thread.run_sync(self._save, record, lease, actor)

    async def _receive(self, chunks: AsyncIterator[bytes], writer: ObjectWriter) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        limit = self.settings.max_file_bytes
        async for block in chunks:
            size += len(block)
            if size > limit:
                raise TooLargeError(f"file is larger than the limit of {limit} bytes", field=FILE_FIELD)
            digest.update(block)
            await anyio.to_thread.run_sync(writer.write, block)
        return size, digest.hexdigest()

    def _save(self, record: FileRecord, lease: ObjectLease, actor: UserRecord) -> FileRecord:
        for _ in range(VERSION_ATTEMPTS):
            record.version = self.files.next_version(record.project_id, record.folder, record.name)
            try:
                self.files.add(record)
                lease.release()
                self.audit.record(
                    actor,
                    "create",
                    "file",
                    f"{record.folder}/{record.name}",
                    project_id=record.project_id,
                    version=record.version,
                    sha256=record.sha256,
                )
                self.session.commit()
                return record
            except IntegrityError:
                self.session.rollback()
                if self.projects.get(record.project_id) is None:
                    raise NotFoundError(f"project {record.project_id!r} not found", field="project") from None
        raise ConflictError(f"too many concurrent uploads of {record.name!r}; try again", field="name")

    def list_page(
        self, project_id: str, folder: FileFolder | None, all_versions: bool, skip: int, limit: int
    ) -> tuple[Sequence[FileRecord], int]:
        return self.files.list_page(project_id, folder, all_versions, skip, limit)

    def get(self, project_id: str, folder: FileFolder, name: str, version: int | None = None) -> FileRecord:
        """One version, the newest when ``version`` is None."""
        record = self.files.get(project_id, folder, name, version)
        if record is None:
            which = f"version {version} of " if version is not None else ""
            raise NotFoundError(
                f"{which}file {folder}/{name} not found", field="version" if version else "name"
            )
        return record

    def versions(self, project_id: str, folder: FileFolder, name: str) -> Sequence[FileRecord]:
        found = self.files.versions(project_id, folder, name)
        if not found:
            raise NotFoundError(f"file {folder}/{name} not found", field="name")
        return found

    def open(self, project_id: str, folder: FileFolder, name: str, version: int | None) -> FileDownload:
        """The bytes of one version. The first block is read here, so that a storage failure
        is reported as a status code rather than as a download cut short."""
        record = self.get(project_id, folder, name, version)
        chunks = self.store.iter_chunks(record.object_key)
        try:
            first = next(chunks, b"")
        except KeyError as exc:
            raise StorageError(f"file {folder}/{name} v{record.version} is missing from storage") from exc
        return FileDownload(record=record, chunks=chain([first], chunks))

    def delete(
        self, project_id: str, actor: UserRecord, folder: FileFolder, name: str, keep: int
    ) -> list[int]:
        """Delete every version but the newest ``keep``; returns the deleted version numbers.
        None is deleted while one of them is a service's model (409 naming the service): the
        service would fail at its next start, when its replicas fetch the file."""
        doomed = self.versions(project_id, folder, name)[keep:]
        users = ServiceRepository(self.session).model_file_users(project_id)
        for record in doomed:
            if str(record.id) in users:
                raise ConflictError(
                    f"version {record.version} of {folder}/{name} is the model of service "
                    f"{users[str(record.id)]!r}: delete that service first",
                    field="keep" if keep else "name",
                )
        cleanup_ids = [self.cleanup.schedule(layout.file_prefix(project_id, record.id)) for record in doomed]
        for record in doomed:
            self.files.delete(record)
        deleted = [record.version for record in doomed]
        if deleted:
            self.audit.record(
                actor, "delete", "file", f"{folder}/{name}", project_id=project_id, versions=deleted
            )
        self.session.commit()
        for cleanup_id in cleanup_ids:
            self.cleanup.run_one(cleanup_id)
        return deleted
