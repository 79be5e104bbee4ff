from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from assay.records import ObjectCleanupRecord
from assay.repositories.base import Repository


class CleanupRepository(Repository[ObjectCleanupRecord]):
    record = ObjectCleanupRecord

    def schedule(self, prefix: str, not_before: dt.datetime) -> ObjectCleanupRecord:
        return self.add(ObjectCleanupRecord(prefix=prefix, not_before=not_before, attempts=0))

    def get(self, cleanup_id: int) -> ObjectCleanupRecord | None:
        return self.session.get(ObjectCleanupRecord, cleanup_id)

    def pending(self, prefix: str) -> bool:
        """True while a removal of exactly ``prefix`` has not been carried out."""
        query = select(ObjectCleanupRecord.id).where(ObjectCleanupRecord.prefix == prefix).limit(1)
        return self.session.scalar(query) is not None

    def due(self, now: dt.datetime, limit: int) -> Sequence[ObjectCleanupRecord]:
        query = (
            select(ObjectCleanupRecord)
            .where(ObjectCleanupRecord.not_before <= now)
            .order_by(ObjectCleanupRecord.not_before)
            .limit(limit)
        )
        return self.session.scalars(query).all()
