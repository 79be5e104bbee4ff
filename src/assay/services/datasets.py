"""Dataset use cases: streaming upload with validation, listing, preview, download, delete.

Object writes and SQL rows never disagree for long: an upload first leases its object prefix
in the cleanup outbox, and only the transaction that inserts the dataset row releases it; a
delete removes the row and schedules the prefix for deletion in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol, TypeVar

import anyio
from pydantic import ValidationError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.datasets.formats import CONTENT_TYPES, detect_format, safe_filename, sniff_format, with_extension
from assay.datasets.ingest import TableIngest, summarize_parquet
from assay.datasets.preview import iter_csv, read_rows
from assay.errors import InvalidInputError, NotFoundError, TooLargeError
from assay.records import DatasetRecord, JobKind, JobRecord, UserRecord
from assay.records.base import utcnow
from assay.repositories.cleanups import CleanupRepository
from assay.repositories.datasets import DatasetRepository
from assay.repositories.experiments import WorkflowRepository
from assay.schemas.datasets import DatasetOptions, DatasetRows
from assay.security.links import LinkSigner
from assay.services.audit import AuditTrail
from assay.services.cleanup import ObjectCleanupService, ObjectLease
from assay.storage import ObjectStore, ObjectWriter, StorageError, layout, zstd

UPLOAD_LEASE = dt.timedelta(hours=1)
# Originals in these formats are kept zstd-compressed (Parquet is compressed already).
COMPRESSED_FORMATS = frozenset({"csv", "jsonl"})
T = TypeVar("T")
U = TypeVar("U")


class UploadSource(Protocol):
    """A file arriving over the network: its name first, then its bytes, then other fields."""

    filename: str

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def fields(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class ObjectDownload:
    filename: str
    size: int | None  # unknown for objects that are decompressed as they are sent
    chunks: Iterator[bytes]


async def _in_thread(function: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(function)


async def _in_threads(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Both calls at once on worker threads; raises the first one's error, if any, once both
    have ended (itself, not wrapped in an exception group, so that a domain error keeps its
    HTTP status)."""
    outcomes: list[tuple[bool, Any]] = [(False, None), (False, None)]

    async def run(index: int, function: Callable[[], Any]) -> None:
        try:
            outcomes[index] = (True, await _in_thread(function))
        except Exception as exc:
            outcomes[index] = (False, exc)

    async with anyio.create_task_group() as group:
        group.start_soon(run, 0, first)
        group.start_soon(run, 1, second)
    for succeeded, value in outcomes:
        if not succeeded:
            raise value
    return outcomes[0][1], outcomes[1][1]


class DatasetService:
    def __init__(self, session: Session, store: ObjectStore, settings: Settings, signer: LinkSigner) -> None:
        self.session = session
        self.store = store
        self.settings = settings
        self.signer = signer
        self.datasets = DatasetRepository(session)
        self.cleanups = CleanupRepository(session)
        self.audit = AuditTrail(session)

    async def create(self, project_id: str, upload: UploadSource, actor: UserRecord | None) -> DatasetRecord:
        named_format = detect_format(upload.filename)
        chunks = upload.chunks()
        first_block = await anext(chunks, b"")
        if not first_block:
            raise InvalidInputError("file is empty", field="dataset")
        source_format = named_format or sniff_format(first_block)
        filename = safe_filename(upload.filename)
        dataset_id = uuid.uuid4()
        prefix = layout.dataset_prefix(project_id, dataset_id)
        original_key = layout.dataset_original_key(prefix, with_extension(filename, source_format))
        async with ObjectLease(self.session, self.store, prefix, UPLOAD_LEASE) as lease:
            original: ObjectWriter
            if source_format in COMPRESSED_FORMATS:
                original_key = zstd.compressed_key(original_key)
                original = zstd.ZstdObjectWriter(self.store.open_writer(original_key, zstd.CONTENT_TYPE))
            else:
                original = self.store.open_writer(original_key, CONTENT_TYPES[source_format])
            lease.track(original)
            parquet = lease.track(
                self.store.open_writer(layout.dataset_table_key(prefix), CONTENT_TYPES["parquet"])
            )
            ingest = TableIngest(source_format, parquet)
            lease.on_failure(ingest.cancel)
            content = hashlib.sha256()
            size = await self._receive(first_block, chunks, original, ingest, content)
            options = _parse_options(await upload.fields())
            # The original's last parts go while the parser finishes the table.
            (summary, parquet_info), _ = await _in_threads(
                lambda: (ingest.finish(), parquet.commit()), original.commit
            )
            record = DatasetRecord(
                id=dataset_id,
                project_id=project_id,
                filename=filename,
                format=options.format.value,
                source_format=source_format,
                size=size,
                row_count=summary.row_count,
                columns=summary.columns,
                ground_truth=summary.ground_truth,
                original_key=original_key,
                parquet_key=layout.dataset_table_key(prefix),
                parquet_size=parquet_info.size,
                run_id=options.run_id,
                generated=options.generated,
                generated_by=options.generated_by,
                created_by=actor.id if actor is not None else None,
                sha256=content.hexdigest(),
            )
            await _in_thread(lambda: self._save(record, lease, actor))
            return record

    async def _receive(
        self,
        first_block: bytes,
        rest: AsyncIterator[bytes],
        original: ObjectWriter,
        ingest: TableIngest,
        content: hashlib._Hash,
    ) -> int:
        """Send every block to storage, to the parser and to the content hash; returns the
        upload's size."""
        size = 0
        limit = self.settings.max_dataset_bytes
        block = first_block
        while block:
            size += len(block)
            if size > limit:
                raise TooLargeError(f"dataset is larger than the limit of {limit} bytes", field="dataset")
            await _in_thread(lambda block=block: _write_block(original, ingest, content, block))  # type: ignore[misc]
            block = await anext(rest, b"")
        return size

    def _save(self, record: DatasetRecord, lease: ObjectLease, actor: UserRecord | None) -> None:
        self.datasets.add(record)
        lease.release()
        self.audit.record(
            actor, "create", "dataset", record.id, project_id=record.project_id, filename=record.filename
        )
        self.session.commit()

    def get(self, project_id: str, dataset_id: uuid.UUID) -> DatasetRecord:
        record = self.datasets.get(project_id, dataset_id)
        if record is None:
            raise NotFoundError(f"dataset {dataset_id} not found", field="dataset_id")
        return record

    def list_page(
        self, project_id: str, skip: int, limit: int, sha256: str | None = None
    ) -> tuple[Sequence[DatasetRecord], int]:
        return self.datasets.list_page(project_id, skip, limit, sha256)

    def delete(self, project_id: str, dataset_id: uuid.UUID, actor: UserRecord) -> None:
        record = self.get(project_id, dataset_id)
        cleanup = self.cleanups.schedule(layout.dataset_prefix(project_id, dataset_id), utcnow())
        self.datasets.delete(record)
        self.audit.record(
            actor, "delete", "dataset", dataset_id, project_id=project_id, filename=record.filename
        )
        self.session.commit()
        ObjectCleanupService(self.session, self.store).run_one(cleanup.id)

    def rows(self, project_id: str, dataset_id: uuid.UUID, offset: int, limit: int) -> DatasetRows:
        record = self.get(project_id, dataset_id)
        try:
            with self.store.open_reader(record.parquet_key) as reader:
                columns, rows, total = read_rows(reader, offset, limit)
        except KeyError as exc:
            raise StorageError(f"dataset {dataset_id} is missing from storage: {exc}") from exc
        return DatasetRows(total=total, offset=offset, limit=limit, columns=columns, rows=rows)

    def download_urls(
        self, project_id: str, dataset_id: uuid.UUID, extension: str | None, api_base_url: str
    ) -> list[str]:
        """Links to the original upload and the Parquet copy, optionally only one extension.

        A job's predictions are stored as Parquet only, and named as Lumigator names them
        (``{stem}-{model}-predictions.csv``); under that name they are also offered as CSV,
        converted by the API while it sends them."""
        record = self.get(project_id, dataset_id)
        wanted = extension.strip().lower().lstrip(".") if extension and extension.strip() else None
        ttl = self.settings.download_link_ttl_seconds
        files = [
            (key, key.rsplit("/", 1)[-1].removesuffix(zstd.SUFFIX))
            for key in dict.fromkeys((record.original_key, record.parquet_key))
        ]
        stored_as_parquet_only = record.original_key == record.parquet_key
        if stored_as_parquet_only and _converted_to_csv(record.parquet_key, record.filename):
            files.append((record.parquet_key, record.filename))
        urls = []
        for key, name in files:
            if wanted is not None and not name.lower().endswith(f".{wanted}"):
                continue
            # A compressed original or a converted table goes through the API, which decodes.
            through_api = zstd.is_compressed(key) or _converted_to_csv(key, name)
            direct = None if through_api else self.store.presigned_url(key, name, ttl)
            urls.append(
                direct or f"{api_base_url.rstrip('/')}/api/v1/objects?{self.signer.query(key, name, ttl)}"
            )
        return urls

    def _csv_chunks(self, key: str) -> Iterator[bytes]:
        with self.store.open_reader(key) as reader:
            yield from iter_csv(reader)

    def open_signed(self, key: str, filename: str, expires: int, signature: str) -> ObjectDownload:
        """Stream an object named by a link that ``download_urls`` signed."""
        if not self.signer.verify(key, filename, expires, signature):
            raise NotFoundError("download link is invalid or has expired", field="signature")
        try:
            info = self.store.stat(key)
        except KeyError as exc:
            raise NotFoundError("the linked object no longer exists", field="key") from exc
        if zstd.is_compressed(key) and not zstd.is_compressed(filename):
            chunks = zstd.iter_decompressed(self.store, key)
            return ObjectDownload(filename=filename, size=None, chunks=chunks)
        if _converted_to_csv(key, filename):
            return ObjectDownload(filename=filename, size=None, chunks=self._csv_chunks(key))
        return ObjectDownload(filename=filename, size=info.size, chunks=self.store.iter_chunks(key))


def _converted_to_csv(key: str, filename: str) -> bool:
    return key.endswith(".parquet") and filename.lower().endswith(".csv")


def _write_block(original: ObjectWriter, ingest: TableIngest, content: hashlib._Hash, block: bytes) -> None:
    original.write(block)
    ingest.feed(block)
    content.update(block)


def _parse_options(fields: dict[str, str]) -> DatasetOptions:
    try:
        return DatasetOptions.model_validate({key: value for key, value in fields.items() if value != ""})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "form"
        raise InvalidInputError(f"{name}: {first['msg']}", field=name) from exc


@dataclass(frozen=True)
class GeneratedDataset:
    """A Parquet table a job wrote under a dataset prefix that was reserved for it.

    ``filename`` names it when the job had no input dataset; otherwise it is named and flagged
    as Lumigator names and flags a job's predictions (``register_generated_dataset``)."""

    project_id: str
    dataset_id: uuid.UUID
    parquet_key: str
    filename: str
    run_id: uuid.UUID
    generated_by: str


def _lumigator_name_and_flag(session: Session, generated: GeneratedDataset) -> tuple[str, bool]:
    """The name and ``generated`` flag Lumigator gives a job's output: an annotation is
    ``{input stem}-annotated.csv``, its ground truth made by the model; predictions are
    ``{input stem}-{model, "/" as "-"}-predictions.csv``, flagged as their input is when a
    workflow made them (the ground truth came with the input), as generated otherwise."""
    job = session.get(JobRecord, generated.run_id)
    source = None
    if job is not None and job.dataset_id is not None:
        source = DatasetRepository(session).get(generated.project_id, job.dataset_id)
    if job is None or source is None:
        return generated.filename, True
    stem = PurePosixPath(source.filename).stem
    if job.kind == JobKind.ANNOTATE:
        return f"{stem}-annotated.csv", True
    in_workflow = WorkflowRepository(session).runs_inference_job(job.id)
    model = generated.generated_by.replace("/", "-")
    return safe_filename(f"{stem}-{model}-predictions.csv"), source.generated if in_workflow else True


def register_generated_dataset(
    session: Session, store: ObjectStore, generated: GeneratedDataset
) -> DatasetRecord:
    """Record a job's output as a dataset (the caller commits), reading only the Parquet
    footer and the ``ground_truth`` column."""
    with store.open_reader(generated.parquet_key) as reader:
        summary = summarize_parquet(reader)
    filename, flag = _lumigator_name_and_flag(session, generated)
    record = DatasetRecord(
        id=generated.dataset_id,
        project_id=generated.project_id,
        filename=filename,
        format="job",
        source_format="parquet",
        size=store.stat(generated.parquet_key).size,
        row_count=summary.row_count,
        columns=summary.columns,
        ground_truth=summary.ground_truth,
        original_key=generated.parquet_key,
        parquet_key=generated.parquet_key,
        parquet_size=store.stat(generated.parquet_key).size,
        run_id=generated.run_id,
        generated=flag,
        generated_by=generated.generated_by,
    )
    return DatasetRepository(session).add(record)
