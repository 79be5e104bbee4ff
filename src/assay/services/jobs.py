"""Job use cases: validate and record a job, write its document; read state, logs, results.

Creating a job never talks to the engine: the row starts ``created`` and the reconciler
submits it, so a job survives an API restart between the two steps.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from assay.compute import ComputeRegistry
from assay.config import Settings
from assay.datasets.columns import GROUND_TRUTH, PREDICTIONS
from assay.errors import ConflictError, InvalidInputError, NotFoundError
from assay.evaluation.plan import metric_plan
from assay.inference.config import ModelChoice
from assay.inference.resolve import resolve_model
from assay.jobs.document import JobDocument
from assay.metrics import default_metrics, references_needed, require_available
from assay.naming import engine_name
from assay.records import DatasetRecord, JobKind, JobRecord, JobStatus, UserRecord
from assay.repositories.datasets import DatasetRepository
from assay.repositories.jobs import JobRepository
from assay.repositories.projects import ProjectRepository
from assay.repositories.secrets import SecretRepository
from assay.schemas.jobs import (
    JUDGE_PROVIDER,
    JobConfig,
    JobCreate,
    JobEvalConfig,
    JobInferenceConfig,
    ScriptJobConfig,
)
from assay.security.destinations import check_destination
from assay.security.job_tokens import redact_job_tokens
from assay.security.links import LinkSigner
from assay.services.audit import AuditTrail
from assay.services.cleanup import ObjectLease
from assay.services.code_policy import require_code_permission, require_safe_engine, runs_user_code
from assay.services.links import DownloadLinks
from assay.services.service_endpoints import require_service
from assay.storage import ObjectStore, StorageError, layout

CONFIG_LEASE = dt.timedelta(minutes=10)


class JobService:
    def __init__(
        self,
        session: Session,
        store: ObjectStore,
        clusters: ComputeRegistry,
        settings: Settings,
        signer: LinkSigner,
    ) -> None:
        self.session = session
        self.store = store
        self.clusters = clusters
        self.settings = settings
        self.signer = signer
        self.jobs = JobRepository(session)
        self.datasets = DatasetRepository(session)
        self.secrets = SecretRepository(session)
        self.audit = AuditTrail(session)

    def create(
        self,
        project_id: str,
        user: UserRecord | None,
        request: JobCreate,
        kind: str | None = None,
        on_created: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Record a job; ``on_created`` changes other rows in the same transaction (a workflow
        moving to its next step), so that a crash never leaves one without the other."""
        config = request.job_config
        if kind is not None and config.job_type != kind:
            raise InvalidInputError(
                f"job_type {config.job_type!r} does not match the route's {kind!r}",
                field="job_config.job_type",
            )
        require_code_permission(user, config)
        dataset = self._input_dataset(project_id, request)
        resolved = _resolve_model(config, request.batch_size)
        require_service(self.session, project_id, resolved, prefix="job_config.")
        metrics = metric_plan(config) if isinstance(config, JobEvalConfig) else None
        self._check_secret(project_id, config)
        project = ProjectRepository(self.session).get(project_id)
        require_safe_engine(self.clusters.engine(project.ray_address if project else None), config)
        job_id = uuid.uuid4()
        prefix = layout.job_prefix(project_id, job_id)
        produces_dataset = isinstance(config, JobInferenceConfig)
        output_prefix = layout.dataset_prefix(project_id, uuid.uuid4()) if produces_dataset else None
        document = JobDocument(
            job_id=job_id,
            kind=config.job_type,
            project_id=project_id,
            name=request.name,
            input_parquet_key=dataset.parquet_key if dataset else None,
            results_prefix=layout.job_results_prefix(project_id, job_id),
            output_dataset_prefix=output_prefix,
            max_samples=request.max_samples,
            batch_size=request.batch_size,
            config=_document_config(config),
            model=resolved.model_dump(mode="json") if resolved else None,
            metrics=metrics,
            sandbox_required=self.settings.auth_required and runs_user_code(config),
        )
        with ObjectLease(self.session, self.store, prefix, CONFIG_LEASE) as lease:
            writer = self.store.open_writer(layout.job_document_key(project_id, job_id), "application/json")
            writer.write(document.model_dump_json().encode())
            writer.commit()
            record = JobRecord(
                id=job_id,
                project_id=project_id,
                kind=config.job_type,
                name=request.name,
                description=request.description,
                status=JobStatus.CREATED,
                config={
                    **document.config,
                    "max_samples": request.max_samples,
                    "batch_size": request.batch_size,
                },
                config_key=layout.job_document_key(project_id, job_id),
                results_prefix=document.results_prefix,
                output_prefix=document.output_dataset_prefix,
                engine_name=engine_name(
                    self.settings.namespace, project_id, f"{request.name}-{job_id.hex[:8]}"
                ),
                dataset_id=dataset.id if dataset else None,
                created_by=user.id if user else None,
                ray_address=project.ray_address if project else None,
            )
            self.jobs.add(record)
            if on_created is not None:
                on_created(record)
            lease.release()
            self.audit.record(user, "run", "job", job_id, project_id=project_id, kind=config.job_type)
            self.session.commit()
        return record

    def _input_dataset(self, project_id: str, request: JobCreate) -> DatasetRecord | None:
        if isinstance(request.job_config, ScriptJobConfig):
            return None
        if request.dataset is None:
            raise InvalidInputError("a dataset is required for this job type", field="dataset")
        dataset = self.datasets.get(project_id, request.dataset)
        if dataset is None:
            raise InvalidInputError(
                f"dataset {request.dataset} does not exist in this project", field="dataset"
            )
        names = {column["name"] for column in dataset.columns}
        if isinstance(request.job_config, JobEvalConfig):
            evaluation = request.job_config
            asked = evaluation.metrics
            chosen = require_available(
                asked if asked is not None else default_metrics(evaluation.task_definition.task),
                field="job_config.metrics",
            )
            if asked is not None:
                evaluation.metrics = chosen
            # References are read only by the metrics that compare with them: a reference-free
            # evaluation (length, a judge) scores a dataset that has none.
            needed = (PREDICTIONS, *([GROUND_TRUTH] if references_needed(chosen) else []))
            missing = [column for column in needed if column not in names]
            if missing:
                raise InvalidInputError(
                    f"an evaluation with metrics {', '.join(chosen)} needs the columns "
                    f"{', '.join(missing)} in the dataset",
                    field="dataset",
                )
        return dataset

    def _check_secret(self, project_id: str, config: JobConfig) -> None:
        """The secret exists and may go where the job would send it."""
        name = getattr(config, "secret_key_name", None)
        if not name:
            return
        secret = self.secrets.get(project_id, name.strip().lower())
        if secret is None:
            raise InvalidInputError(
                f"secret {name!r} does not exist in this project", field="job_config.secret_key_name"
            )
        for provider, base_url in secret_destinations(config):
            check_destination(secret.name, secret.allowed_hosts, provider, base_url)

    def get(self, project_id: str, job_id: uuid.UUID) -> JobRecord:
        job = self.jobs.get(project_id, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        return job

    def list_page(
        self, project_id: str, kinds: Sequence[str] | None, skip: int, limit: int
    ) -> tuple[Sequence[JobRecord], int]:
        valid = {kind.value for kind in JobKind}
        unknown = sorted(set(kinds or ()) - valid)
        if unknown:
            raise InvalidInputError(
                f"unknown job type(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}",
                field="job_types",
            )
        return self.jobs.list_page(project_id, kinds, skip, limit)

    def logs(self, project_id: str, job_id: uuid.UUID) -> str:
        """Stored logs of a finished job; live logs from the engine while it runs."""
        job = self.get(project_id, job_id)
        if job.logs_key:
            try:
                with self.store.open_reader(job.logs_key) as reader:
                    return reader.read().decode("utf-8", "replace")
            except KeyError as exc:
                raise StorageError(f"logs of job {job_id} are missing from storage: {exc}") from exc
        if job.status == JobStatus.CREATED:
            return ""
        return redact_job_tokens(self.clusters.engine(job.ray_address).logs(str(job.id)))

    def result_url(self, project_id: str, job_id: uuid.UUID, links: DownloadLinks) -> str:
        """A link to the job's result: Lumigator's ``results.json`` for an evaluation (Assay's
        summary for one that ran before Assay wrote that file), the summary otherwise."""
        job = self.get(project_id, job_id)
        if job.status != JobStatus.SUCCEEDED:
            raise ConflictError(f"job {job_id} has no results (status: {job.status})", field="job_id")
        results_key = (job.summary or {}).get("results_key")
        key = (
            results_key
            if isinstance(results_key, str)
            else layout.result_key(job.results_prefix, layout.SUMMARY_FILE)
        )
        return links.object_url(key, layout.LUMIGATOR_RESULTS_FILE)

    def output_dataset(self, project_id: str, job_id: uuid.UUID) -> DatasetRecord:
        job = self.get(project_id, job_id)
        dataset = self.datasets.get(project_id, job.output_dataset_id) if job.output_dataset_id else None
        if dataset is None:
            raise NotFoundError(
                f"job {job_id} has produced no dataset (status: {job.status})", field="job_id"
            )
        return dataset

    def stop(self, project_id: str, job_id: uuid.UUID, user: UserRecord) -> JobRecord:
        """Ask for a stop; the reconciler carries it out and records ``stopped``."""
        job = self.get(project_id, job_id)
        if not JobStatus(job.status).finished:
            job.stop_requested = True
            self.audit.record(user, "stop", "job", job_id, project_id=project_id)
            self.session.commit()
        return job


def secret_destinations(config: JobConfig) -> list[tuple[str, str | None]]:
    """(provider, base URL) of every endpoint a job of this config sends its secret to."""
    if isinstance(config, JobInferenceConfig):
        return [(config.provider, config.base_url)]
    if isinstance(config, JobEvalConfig) and config.llm_as_judge is not None:
        return [(JUDGE_PROVIDER, config.llm_as_judge.model_base_url)]
    return []


def _resolve_model(config: JobConfig, batch_size: int) -> ModelChoice | None:
    """An inference job's model, resolved and checked now; the worker receives it as is."""
    if not isinstance(config, JobInferenceConfig):
        return None
    return resolve_model(
        provider=config.provider,
        model=config.model,
        base_url=config.base_url,
        secret_key_name=config.secret_key_name,
        generation=config.generation_config.model_dump(mode="json", exclude_unset=True),
        options=config.provider_options,
        max_concurrency=config.max_concurrency,
        batch_size=batch_size,
        prefix="job_config.",
    )


def _document_config(config: JobConfig) -> dict[str, Any]:
    """The config as JSON; generation settings only as the caller set them, so that the
    engine's per-provider defaults apply to the rest."""
    document = config.model_dump(mode="json")
    if isinstance(config, JobInferenceConfig):
        document["generation_config"] = config.generation_config.model_dump(mode="json", exclude_unset=True)
    return document
