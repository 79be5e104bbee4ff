from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from assay.records import DesiredState, ServiceRecord, ServiceStatus
from assay.repositories.base import Repository

# What the reconciler leaves alone: stopped and failed services that are meant to stay so.
RESTING = (ServiceStatus.STOPPED, ServiceStatus.FAILED)


class ServiceRepository(Repository[ServiceRecord]):
    record = ServiceRecord

    def get(self, project_id: str, name: str) -> ServiceRecord | None:
        query = select(ServiceRecord).where(
            ServiceRecord.project_id == project_id, ServiceRecord.name == name
        )
        return self.session.scalars(query).first()

    def by_id(self, service_id: uuid.UUID) -> ServiceRecord | None:
        return self.session.get(ServiceRecord, service_id)

    def list_page(self, project_id: str, skip: int, limit: int) -> tuple[Sequence[ServiceRecord], int]:
        """The project's services, less those being deleted (already gone for ``get``)."""
        query = select(ServiceRecord).where(
            ServiceRecord.project_id == project_id, ServiceRecord.desired != DesiredState.DELETED
        )
        return self.page(query.order_by(ServiceRecord.name), skip, limit)

    def model_file_users(self, project_id: str) -> dict[str, str]:
        """The project's file versions that services load as their model (``file:`` models,
        pinned at creation), by file id, with the name of the service; services being deleted
        no longer count."""
        query = select(ServiceRecord).where(
            ServiceRecord.project_id == project_id, ServiceRecord.desired != DesiredState.DELETED
        )
        return {
            str(service.config["model_file"]["file_id"]): service.name
            for service in self.session.scalars(query)
            if service.config.get("model_file")
        }

    def active_ids(self) -> list[uuid.UUID]:
        """Services whose engine state may differ from what is asked: everything except those
        at rest and asked to stay there."""
        resting = [str(status) for status in RESTING]
        query = select(ServiceRecord.id).where(
            ~(ServiceRecord.status.in_(resting) & (ServiceRecord.desired != DesiredState.DELETED))
        )
        return list(self.session.scalars(query.order_by(ServiceRecord.created_at)))
