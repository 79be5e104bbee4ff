from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from assay.records import DatasetRecord
from assay.repositories.base import Repository


class DatasetRepository(Repository[DatasetRecord]):
    record = DatasetRecord

    def get(self, project_id: str, dataset_id: uuid.UUID) -> DatasetRecord | None:
        found = self.session.get(DatasetRecord, dataset_id)
        return found if found is not None and found.project_id == project_id else None

    def list_page(
        self, project_id: str, skip: int, limit: int, sha256: str | None = None
    ) -> tuple[Sequence[DatasetRecord], int]:
        query = (
            select(DatasetRecord)
            .where(DatasetRecord.project_id == project_id)
            .order_by(DatasetRecord.created_at.desc(), DatasetRecord.id)
        )
        if sha256 is not None:
            query = query.where(DatasetRecord.sha256 == sha256)
        return self.page(query, skip, limit)
