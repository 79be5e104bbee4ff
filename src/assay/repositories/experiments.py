from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from assay.records import ExperimentRecord, WorkflowRecord, WorkflowStatus
from assay.repositories.base import Repository


class ExperimentRepository(Repository[ExperimentRecord]):
    record = ExperimentRecord

    def get(self, project_id: str, experiment_id: uuid.UUID) -> ExperimentRecord | None:
        found = self.session.get(ExperimentRecord, experiment_id)
        return found if found is not None and found.project_id == project_id else None

    def list_page(self, project_id: str, skip: int, limit: int) -> tuple[Sequence[ExperimentRecord], int]:
        query = (
            select(ExperimentRecord)
            .where(ExperimentRecord.project_id == project_id)
            .order_by(ExperimentRecord.created_at.desc(), ExperimentRecord.id)
        )
        return self.page(query, skip, limit)


class WorkflowRepository(Repository[WorkflowRecord]):
    record = WorkflowRecord

    def get(self, project_id: str, workflow_id: uuid.UUID) -> WorkflowRecord | None:
        found = self.session.get(WorkflowRecord, workflow_id)
        return found if found is not None and found.project_id == project_id else None

    def by_id(self, workflow_id: uuid.UUID) -> WorkflowRecord | None:
        return self.session.get(WorkflowRecord, workflow_id)

    def for_experiments(self, experiment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[WorkflowRecord]]:
        """Every workflow of these experiments in one query (listing pages stay O(1) queries)."""
        grouped: dict[uuid.UUID, list[WorkflowRecord]] = {
            experiment_id: [] for experiment_id in experiment_ids
        }
        if not experiment_ids:
            return grouped
        query = (
            select(WorkflowRecord)
            .where(WorkflowRecord.experiment_id.in_(list(experiment_ids)))
            .order_by(WorkflowRecord.created_at, WorkflowRecord.id)
        )
        for workflow in self.session.scalars(query):
            grouped[workflow.experiment_id].append(workflow)
        return grouped

    def runs_inference_job(self, job_id: uuid.UUID) -> bool:
        """Whether some workflow made this inference job its first step."""
        query = select(WorkflowRecord.id).where(WorkflowRecord.inference_job_id == job_id).limit(1)
        return self.session.scalar(query) is not None

    def active_ids(self) -> list[uuid.UUID]:
        active = [WorkflowStatus.CREATED, WorkflowStatus.RUNNING_INFERENCE, WorkflowStatus.RUNNING_EVALUATION]
        query = select(WorkflowRecord.id).where(WorkflowRecord.status.in_([str(s) for s in active]))
        return list(self.session.scalars(query.order_by(WorkflowRecord.created_at)))
