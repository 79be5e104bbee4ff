from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select, update

from assay.records import JobCredentialRecord, JobRecord
from assay.repositories.base import Repository


class JobCredentialRepository(Repository[JobCredentialRecord]):
    record = JobCredentialRecord

    def issue(self, job_id: uuid.UUID, claim_hash: str) -> None:
        """A fresh claim for the job; any earlier credential of it stops working."""
        self.revoke(job_id)
        self.add(JobCredentialRecord(job_id=job_id, claim_hash=claim_hash))

    def claim(self, claim_hash: str, session_hash: str, now: dt.datetime) -> uuid.UUID | None:
        """Trade an unused claim for a session in one atomic UPDATE, so that a claim token
        works once even when two callers race with it."""
        job_id = self.session.scalar(
            select(JobCredentialRecord.job_id).where(JobCredentialRecord.claim_hash == claim_hash)
        )
        if job_id is None:
            return None
        result = self.session.execute(
            update(JobCredentialRecord)
            .where(JobCredentialRecord.job_id == job_id, JobCredentialRecord.claim_hash == claim_hash)
            .values(claim_hash=None, session_hash=session_hash, claimed_at=now)
        )
        return job_id if result.rowcount else None  # type: ignore[attr-defined]

    def job_for_session(self, session_hash: str) -> JobRecord | None:
        query = (
            select(JobRecord)
            .join(JobCredentialRecord, JobCredentialRecord.job_id == JobRecord.id)
            .where(JobCredentialRecord.session_hash == session_hash)
        )
        return self.session.scalars(query).first()

    def revoke(self, job_id: uuid.UUID) -> None:
        self.session.execute(delete(JobCredentialRecord).where(JobCredentialRecord.job_id == job_id))
