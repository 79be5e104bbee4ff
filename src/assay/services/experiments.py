"""Experiments and workflows as use cases: create, read, stop, retry, delete.

Workflows are advanced by ``WorkflowRunner`` inside the reconciler; nothing here waits for a
job. Deleting stops what still runs and cleans up jobs, objects and datasets it produced.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from assay.compute import ComputeRegistry, EngineUnavailableError
from assay.datasets.columns import GROUND_TRUTH
from assay.errors import ConflictError, InvalidInputError, NotFoundError
from assay.evaluation.plan import metric_plan
from assay.inference.resolve import resolve_model
from assay.metrics import default_metrics, references_needed, require_available
from assay.records import ExperimentRecord, JobRecord, JobStatus, UserRecord, WorkflowRecord, WorkflowStatus
from assay.repositories.datasets import DatasetRepository
from assay.repositories.experiments import ExperimentRepository, WorkflowRepository
from assay.repositories.jobs import JobRepository
from assay.repositories.secrets import SecretRepository
from assay.schemas.experiments import ExperimentCreate, WorkflowCreateRequest
from assay.schemas.jobs import JUDGE_PROVIDER, JobEvalConfig
from assay.security.destinations import check_destination
from assay.services.audit import AuditTrail
from assay.services.cleanup import ObjectCleanupService
from assay.services.service_endpoints import require_service
from assay.services.workflow_tracking import WorkflowTracking
from assay.storage import ObjectStore
from assay.storage.layout import dataset_prefix, job_prefix


@dataclass(frozen=True)
class ExperimentView:
    experiment: ExperimentRecord
    workflows: list[WorkflowRecord]


class ExperimentService:
    def __init__(self, session: Session, store: ObjectStore, clusters: ComputeRegistry) -> None:
        self.session = session
        self.store = store
        self.clusters = clusters
        self.experiments = ExperimentRepository(session)
        self.workflows = WorkflowRepository(session)
        self.jobs = JobRepository(session)
        self.cleanup = ObjectCleanupService(session, store)

    def create(self, project_id: str, user: UserRecord, request: ExperimentCreate) -> ExperimentView:
        if DatasetRepository(self.session).get(project_id, request.dataset) is None:
            raise InvalidInputError(
                f"dataset {request.dataset} does not exist in this project", field="dataset"
            )
        experiment = ExperimentRecord(
            project_id=project_id,
            name=request.name,
            description=request.description,
            dataset_id=request.dataset,
            task_definition=request.task_definition.model_dump(mode="json"),
            max_samples=request.max_samples,
            created_by=user.id,
        )
        self.experiments.add(experiment)
        WorkflowTracking(self.session).experiment_created(experiment)
        AuditTrail(self.session).record(user, "create", "experiment", experiment.id, project_id=project_id)
        self.session.commit()
        return ExperimentView(experiment, [])

    def require(self, project_id: str, experiment_id: uuid.UUID) -> ExperimentRecord:
        experiment = self.experiments.get(project_id, experiment_id)
        if experiment is None:
            raise NotFoundError(f"experiment {experiment_id} not found", field="experiment_id")
        return experiment

    def get(self, project_id: str, experiment_id: uuid.UUID) -> ExperimentView:
        experiment = self.require(project_id, experiment_id)
        return ExperimentView(experiment, self.workflows.for_experiments([experiment.id])[experiment.id])

    def list_page(self, project_id: str, skip: int, limit: int) -> tuple[list[ExperimentView], int]:
        """A page of experiments with their workflows in a fixed number of queries."""
        experiments, total = self.experiments.list_page(project_id, skip, limit)
        grouped = self.workflows.for_experiments([experiment.id for experiment in experiments])
        return [ExperimentView(experiment, grouped[experiment.id]) for experiment in experiments], total

    def delete(self, project_id: str, experiment_id: uuid.UUID, force: bool, user: UserRecord) -> None:
        view = self.get(project_id, experiment_id)
        for workflow in view.workflows:
            WorkflowService(self.session, self.store, self.clusters).delete(
                project_id, workflow.id, force, user
            )
        WorkflowTracking(self.session).experiment_deleted(view.experiment)
        AuditTrail(self.session).record(user, "delete", "experiment", experiment_id, project_id=project_id)
        self.experiments.delete(view.experiment)
        self.session.commit()


class WorkflowService:
    def __init__(self, session: Session, store: ObjectStore, clusters: ComputeRegistry) -> None:
        self.session = session
        self.store = store
        self.clusters = clusters
        self.workflows = WorkflowRepository(session)
        self.jobs = JobRepository(session)
        self.cleanup = ObjectCleanupService(session, store)

    def create(self, project_id: str, user: UserRecord, request: WorkflowCreateRequest) -> WorkflowRecord:
        experiment = self._experiment(project_id, request.experiment_id)
        choice = resolve_model(
            provider=request.provider,
            model=request.model,
            base_url=request.base_url,
            secret_key_name=request.secret_key_name,
            generation=request.generation_config.model_dump(mode="json", exclude_unset=True),
            options=request.provider_options,
            batch_size=request.batch_size,
        )
        require_service(self.session, project_id, choice, prefix="")
        task = str(experiment.task_definition["task"])
        chosen = require_available(request.metrics if request.metrics is not None else default_metrics(task))
        # The evaluation step's own checks (a model-backed metric needs llm_as_judge, the judge's
        # model resolves), run now: a workflow is refused when it is created, not at its second step.
        metric_plan(
            JobEvalConfig(
                secret_key_name=request.secret_key_name,
                task_definition=experiment.task_definition,
                metrics=chosen,
                llm_as_judge=request.llm_as_judge,
            ),
            prefix="",
        )
        self._require_references(experiment, chosen)
        self._check_secret(project_id, request)
        workflow = WorkflowRecord(
            experiment_id=experiment.id,
            project_id=project_id,
            name=request.name,
            description=request.description,
            model=request.model,
            provider=request.provider,
            base_url=request.base_url,
            secret_key_name=request.secret_key_name,
            system_prompt=request.system_prompt,
            generation_config=request.generation_config.model_dump(mode="json", exclude_unset=True),
            provider_options=request.provider_options,
            batch_size=request.batch_size,
            metric_names=chosen if request.metrics is not None else None,
            judge=request.llm_as_judge.model_dump(mode="json") if request.llm_as_judge else None,
            status=WorkflowStatus.CREATED,
            created_by=user.id,
        )
        self.workflows.add(workflow)
        WorkflowTracking(self.session).workflow_created(workflow)
        AuditTrail(self.session).record(user, "run", "workflow", workflow.id, project_id=project_id)
        self.session.commit()
        return workflow

    def _require_references(self, experiment: ExperimentRecord, metrics: list[str]) -> None:
        """Metrics that compare with references need the experiment's dataset to have them."""
        needing = references_needed(metrics)
        dataset = DatasetRepository(self.session).get(experiment.project_id, experiment.dataset_id)
        columns = {column["name"] for column in dataset.columns} if dataset is not None else set()
        if needing and GROUND_TRUTH not in columns:
            raise InvalidInputError(
                f"metric(s) {', '.join(needing)} compare with references, and the experiment's dataset "
                f"has no {GROUND_TRUTH!r} column: choose reference-free metrics (length) or another dataset",
                field="metrics",
            )

    def _check_secret(self, project_id: str, request: WorkflowCreateRequest) -> None:
        """The secret exists and may go to the model's and the judge's servers, checked now
        rather than when the reconciler creates the steps' jobs."""
        if not request.secret_key_name:
            return
        secret = SecretRepository(self.session).get(project_id, request.secret_key_name.strip().lower())
        if secret is None:
            raise InvalidInputError(
                f"secret {request.secret_key_name!r} does not exist", field="secret_key_name"
            )
        destinations = [(request.provider, request.base_url)]
        if request.llm_as_judge is not None:
            destinations.append((JUDGE_PROVIDER, request.llm_as_judge.model_base_url))
        for provider, base_url in destinations:
            check_destination(secret.name, secret.allowed_hosts, provider, base_url, field="secret_key_name")

    def _experiment(self, project_id: str, experiment_id: str | None) -> ExperimentRecord:
        try:
            parsed = uuid.UUID(str(experiment_id))
        except ValueError:
            raise InvalidInputError(
                "experiment_id must be the id of an experiment", field="experiment_id"
            ) from None
        experiment = ExperimentRepository(self.session).get(project_id, parsed)
        if experiment is None:
            raise InvalidInputError(f"experiment {experiment_id} does not exist", field="experiment_id")
        return experiment

    def require(self, project_id: str, workflow_id: uuid.UUID) -> WorkflowRecord:
        workflow = self.workflows.get(project_id, workflow_id)
        if workflow is None:
            raise NotFoundError(f"workflow {workflow_id} not found", field="workflow_id")
        return workflow

    def job_ids(self, workflow: WorkflowRecord) -> list[uuid.UUID]:
        return [job_id for job_id in (workflow.inference_job_id, workflow.evaluation_job_id) if job_id]

    def stop(self, project_id: str, workflow_id: uuid.UUID) -> WorkflowRecord:
        workflow = self.require(project_id, workflow_id)
        if not WorkflowStatus(workflow.status).finished:
            workflow.stop_requested = True
            for job in self._jobs(workflow):
                job.stop_requested = True
            self.session.commit()
        return workflow

    def retry(self, project_id: str, workflow_id: uuid.UUID) -> WorkflowRecord:
        """Run again from the step that failed or stopped; earlier steps' results are kept."""
        workflow = self.require(project_id, workflow_id)
        if workflow.status not in (WorkflowStatus.FAILED, WorkflowStatus.STOPPED):
            raise ConflictError(
                f"only failed or stopped workflows can be retried (status: {workflow.status})"
            )
        if workflow.failed_step == "evaluation" and workflow.inference_job_id:
            workflow.evaluation_job_id = None
            workflow.status = WorkflowStatus.RUNNING_INFERENCE
        else:
            workflow.inference_job_id = None
            workflow.evaluation_job_id = None
            workflow.status = WorkflowStatus.CREATED
        workflow.status_reason = None
        workflow.failed_step = None
        workflow.stop_requested = False
        self.session.commit()
        return workflow

    def delete(self, project_id: str, workflow_id: uuid.UUID, force: bool, user: UserRecord) -> None:
        """Delete the workflow, its jobs, their objects and the datasets they produced."""
        workflow = self.require(project_id, workflow_id)
        running = not WorkflowStatus(workflow.status).finished
        if running and not force:
            raise ConflictError(
                f"workflow {workflow_id} is {workflow.status}; stop it first or use force=true"
            )
        jobs = self._jobs(workflow)
        cleanups: list[int] = []
        datasets = DatasetRepository(self.session)
        for job in jobs:
            if not JobStatus(job.status).finished:
                with contextlib.suppress(EngineUnavailableError):
                    self.clusters.engine(job.ray_address).stop(str(job.id))
            cleanups.append(self.cleanup.schedule(job_prefix(project_id, job.id)))
            if job.output_prefix:
                cleanups.append(self.cleanup.schedule(job.output_prefix))
            output = datasets.get(project_id, job.output_dataset_id) if job.output_dataset_id else None
            if output is not None:
                cleanups.append(self.cleanup.schedule(dataset_prefix(project_id, output.id)))
        WorkflowTracking(self.session).workflow_deleted(workflow, [job.id for job in jobs])
        AuditTrail(self.session).record(user, "delete", "workflow", workflow_id, project_id=project_id)
        self.workflows.delete(workflow)
        for job in jobs:
            output = datasets.get(project_id, job.output_dataset_id) if job.output_dataset_id else None
            self.jobs.delete(job)
            if output is not None:
                datasets.delete(output)
        self.session.commit()
        for cleanup_id in cleanups:
            self.cleanup.run_one(cleanup_id)

    def _jobs(self, workflow: WorkflowRecord) -> Sequence[JobRecord]:
        return [job for job_id in self.job_ids(workflow) if (job := self.jobs.by_id(job_id)) is not None]
