from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from assay.records import JobRecord, JobStatus, WarmWorkerRecord
from assay.repositories.base import Repository

POOL_RUNNER = "pool"
ENGINE_RUNNER = "engine"  # a job the pool gave back: an engine job of its own from then on


class WarmWorkerRepository(Repository[WarmWorkerRecord]):
    record = WarmWorkerRecord

    def all(self) -> list[WarmWorkerRecord]:
        return list(self.session.scalars(select(WarmWorkerRecord).order_by(WarmWorkerRecord.started_at)))

    def by_token(self, token_hash: str) -> WarmWorkerRecord | None:
        query = select(WarmWorkerRecord).where(WarmWorkerRecord.token_hash == token_hash)
        return self.session.scalars(query).first()

    def waiting_ids(self, kinds: tuple[str, ...], limit: int = 8) -> list[uuid.UUID]:
        """Jobs handed to the pool that no worker took yet, oldest first."""
        query = (
            select(JobRecord.id)
            .where(
                JobRecord.runner == POOL_RUNNER,
                JobRecord.worker_id.is_(None),
                JobRecord.status.in_([str(JobStatus.PENDING)]),
                JobRecord.stop_requested.is_(False),
                JobRecord.kind.in_(kinds),
            )
            .order_by(JobRecord.created_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def take(self, job_id: uuid.UUID, worker_id: str, now: dt.datetime) -> bool:
        """Give the job to the worker in one atomic UPDATE: two workers never both get it."""
        result = self.session.execute(
            update(JobRecord)
            .where(JobRecord.id == job_id, JobRecord.worker_id.is_(None), JobRecord.runner == POOL_RUNNER)
            .values(worker_id=worker_id, worker_seen_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def jobs_of(self, worker_id: str, job_ids: list[uuid.UUID]) -> list[JobRecord]:
        query = select(JobRecord).where(JobRecord.worker_id == worker_id, JobRecord.id.in_(job_ids))
        return list(self.session.scalars(query))
