from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import joinedload

from assay.records import (
    DatasetRecord,
    ExperimentRecord,
    FileRecord,
    JobRecord,
    JobStatus,
    MemberRecord,
    ProjectRecord,
    Role,
    SecretRecord,
    ServiceRecord,
    ServiceStatus,
    WorkflowRecord,
)
from assay.repositories.base import Repository

# Every table whose rows belong to a project and must go before the project row can
# (members and audit events go with it through ON DELETE CASCADE). Deletion runs in this
# order: jobs point at datasets.
PROJECT_RESOURCES: dict[str, Table] = {
    kind: cast(Table, record.__table__)
    for kind, record in (
        ("services", ServiceRecord),
        ("workflows", WorkflowRecord),
        ("experiments", ExperimentRecord),
        ("jobs", JobRecord),
        ("datasets", DatasetRecord),
        ("files", FileRecord),
        ("secrets", SecretRecord),
    )
}
FINISHED_JOB_STATUSES = [str(status) for status in JobStatus if status.finished]
ENDED_SERVICE_STATUSES = [str(ServiceStatus.STOPPED), str(ServiceStatus.FAILED)]


class ProjectRepository(Repository[ProjectRecord]):
    record = ProjectRecord

    def get(self, project_id: str) -> ProjectRecord | None:
        return self.session.get(ProjectRecord, project_id)

    def list_all(self) -> Sequence[ProjectRecord]:
        return self.session.scalars(select(ProjectRecord).order_by(ProjectRecord.id)).all()

    def list_for_member(self, user_id: uuid.UUID) -> Sequence[tuple[ProjectRecord, str]]:
        query = (
            select(ProjectRecord, MemberRecord.role)
            .join(MemberRecord, MemberRecord.project_id == ProjectRecord.id)
            .where(MemberRecord.user_id == user_id)
            .order_by(ProjectRecord.id)
        )
        return [(project, role) for project, role in self.session.execute(query)]

    def count_resources(self, project_id: str) -> dict[str, int]:
        counts = {}
        for kind, table in PROJECT_RESOURCES.items():
            query = select(func.count()).select_from(table).where(table.c.project_id == project_id)
            counts[kind] = int(self.session.scalar(query) or 0)
        return counts

    def count_unfinished_jobs(self, project_id: str) -> int:
        query = (
            select(func.count())
            .select_from(JobRecord)
            .where(JobRecord.project_id == project_id, JobRecord.status.not_in(FINISHED_JOB_STATUSES))
        )
        return int(self.session.scalar(query) or 0)

    def count_live_services(self, project_id: str) -> int:
        query = (
            select(func.count())
            .select_from(ServiceRecord)
            .where(
                ServiceRecord.project_id == project_id, ServiceRecord.status.not_in(ENDED_SERVICE_STATUSES)
            )
        )
        return int(self.session.scalar(query) or 0)

    def rebind_services(self, project_id: str, ray_address: str | None) -> None:
        """Where the project's services start from now on; meant for services that all rest
        (a live one is stopped where it runs, through its recorded address)."""
        self.session.execute(
            update(ServiceRecord)
            .where(ServiceRecord.project_id == project_id)
            .values(ray_address=ray_address)
        )

    def delete_with_resources(self, project: ProjectRecord) -> None:
        for table in PROJECT_RESOURCES.values():
            self.session.execute(delete(table).where(table.c.project_id == project.id))
        self.delete(project)


class MemberRepository(Repository[MemberRecord]):
    record = MemberRecord

    def get(self, project_id: str, user_id: uuid.UUID) -> MemberRecord | None:
        return self.session.get(MemberRecord, (project_id, user_id))

    def list_for(self, project_id: str) -> Sequence[MemberRecord]:
        query = (
            select(MemberRecord)
            .options(joinedload(MemberRecord.user))
            .where(MemberRecord.project_id == project_id)
            .order_by(MemberRecord.created_at)
        )
        return self.session.scalars(query).all()

    def count_owners(self, project_id: str) -> int:
        query = (
            select(func.count())
            .select_from(MemberRecord)
            .where(MemberRecord.project_id == project_id, MemberRecord.role == Role.OWNER)
        )
        return int(self.session.scalar(query) or 0)
