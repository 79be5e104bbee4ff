"""Which object keys one job may touch: exactly its own inputs and outputs.

Read only: its document and its input dataset's Parquet file. Read, write, list and delete:
its results prefix, its output dataset prefix and its project's inference cache. Keys are
checked segment by segment, so ``..``, empty segments and absolute paths never match.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from assay.errors import PermissionDeniedError
from assay.records import DatasetRecord, JobRecord
from assay.storage.layout import inference_cache_prefix


def _well_formed(key: str, *, prefix: bool) -> bool:
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        return False
    segments = key.split("/")
    if prefix:
        if segments[-1] != "":
            return False
        segments = segments[:-1]
    return all(segment not in ("", ".", "..") for segment in segments)


@dataclass(frozen=True)
class JobScope:
    readable: frozenset[str]
    prefixes: tuple[str, ...]

    def _within(self, key: str) -> bool:
        return any(key.startswith(prefix) for prefix in self.prefixes)

    def require_read(self, key: str) -> None:
        if not (_well_formed(key, prefix=False) and (key in self.readable or self._within(key))):
            raise PermissionDeniedError(f"object {key!r} is outside this job's scope", field="key")

    def require_write(self, key: str) -> None:
        if not (_well_formed(key, prefix=False) and self._within(key)):
            raise PermissionDeniedError(f"object {key!r} is outside this job's scope", field="key")

    def require_prefix(self, prefix: str) -> None:
        if not (_well_formed(prefix, prefix=True) and self._within(prefix)):
            raise PermissionDeniedError(f"prefix {prefix!r} is outside this job's scope", field="prefix")


def scope_of(session: Session, job: JobRecord) -> JobScope:
    readable = {job.config_key}
    dataset = session.get(DatasetRecord, job.dataset_id) if job.dataset_id else None
    if dataset is not None and dataset.project_id == job.project_id:
        readable.add(dataset.parquet_key)
    prefixes = [job.results_prefix, inference_cache_prefix(job.project_id)]
    if job.output_prefix:
        prefixes.append(job.output_prefix)
    return JobScope(frozenset(readable), tuple(prefixes))
