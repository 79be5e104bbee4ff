from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from assay.records import AuditEventRecord
from assay.repositories.base import Repository


class AuditRepository(Repository[AuditEventRecord]):
    record = AuditEventRecord

    def list_page(
        self, project_id: str | None, skip: int, limit: int
    ) -> tuple[Sequence[AuditEventRecord], int]:
        """Newest first; every event when ``project_id`` is None."""
        query = select(AuditEventRecord)
        if project_id is not None:
            query = query.where(AuditEventRecord.project_id == project_id)
        return self.page(query.order_by(AuditEventRecord.id.desc()), skip, limit)
