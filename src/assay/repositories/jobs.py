from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, or_, select, update

from assay.records import JobRecord, JobStatus, LeaseRecord
from assay.repositories.base import Repository

ACTIVE = (JobStatus.CREATED, JobStatus.PENDING, JobStatus.RUNNING)


class JobRepository(Repository[JobRecord]):
    record = JobRecord

    def get(self, project_id: str, job_id: uuid.UUID) -> JobRecord | None:
        found = self.session.get(JobRecord, job_id)
        return found if found is not None and found.project_id == project_id else None

    def by_id(self, job_id: uuid.UUID) -> JobRecord | None:
        return self.session.get(JobRecord, job_id)

    def list_page(
        self, project_id: str, kinds: Sequence[str] | None, skip: int, limit: int
    ) -> tuple[Sequence[JobRecord], int]:
        query = select(JobRecord).where(JobRecord.project_id == project_id)
        if kinds:
            query = query.where(JobRecord.kind.in_(list(kinds)))
        return self.page(query.order_by(JobRecord.created_at.desc(), JobRecord.id), skip, limit)

    def active_ids(self) -> list[uuid.UUID]:
        query = select(JobRecord.id).where(JobRecord.status.in_([str(status) for status in ACTIVE]))
        return list(self.session.scalars(query.order_by(JobRecord.created_at)))

    def ids_with_status(self, *statuses: JobStatus) -> list[uuid.UUID]:
        query = select(JobRecord.id).where(JobRecord.status.in_([str(status) for status in statuses]))
        return list(self.session.scalars(query.order_by(JobRecord.created_at)))


class LeaseRepository(Repository[LeaseRecord]):
    record = LeaseRecord

    def try_take(self, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Take or renew ``name`` if it is free, expired or already ours: one atomic UPDATE,
        so two processes can never both believe they hold it."""
        if self.session.get(LeaseRecord, name) is None:
            self.session.add(LeaseRecord(name=name, holder=holder, expires_at=now - ttl))
            self.session.flush()
        result = self.session.execute(
            update(LeaseRecord)
            .where(LeaseRecord.name == name)
            .where(or_(LeaseRecord.holder == holder, LeaseRecord.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, name: str, holder: str) -> None:
        self.session.execute(
            delete(LeaseRecord).where(LeaseRecord.name == name, LeaseRecord.holder == holder)
        )
