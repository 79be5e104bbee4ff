from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from assay.records import SecretRecord
from assay.repositories.base import Repository


class SecretRepository(Repository[SecretRecord]):
    record = SecretRecord

    def get(self, project_id: str, name: str) -> SecretRecord | None:
        return self.session.get(SecretRecord, (project_id, name))

    def list_for_project(self, project_id: str) -> Sequence[SecretRecord]:
        query = select(SecretRecord).where(SecretRecord.project_id == project_id).order_by(SecretRecord.name)
        return self.session.scalars(query).all()
