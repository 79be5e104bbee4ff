"""The workflow state machine: created → running_inference → running_evaluation → done.

Each step is one transaction: the job of the next step is created together with the
workflow's move, so an API process killed anywhere resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from assay.compute import ComputeRegistry
from assay.config import Settings
from assay.errors import InvalidInputError, PermissionDeniedError
from assay.evaluation.failures import failed_everywhere, failed_somewhere
from assay.records import (
    DatasetRecord,
    ExperimentRecord,
    JobRecord,
    JobStatus,
    UserRecord,
    WorkflowRecord,
    WorkflowStatus,
)
from assay.repositories.jobs import JobRepository
from assay.schemas.jobs import GenerationConfig, JobCreate, JobEvalConfig, JobInferenceConfig, JudgeConfig
from assay.security.links import LinkSigner
from assay.services.jobs import JobService
from assay.services.workflow_results import compile_workflow_results
from assay.services.workflow_tracking import WorkflowTracking
from assay.storage import ObjectStore
from assay.storage.layout import SCORES_FILE, SUMMARY_FILE, result_key

log = logging.getLogger(__name__)


def flatten_metrics(summary: dict[str, Any] | None) -> dict[str, float]:
    """``{"rouge1": {"mean": .., "ci_low": ..}}`` → ``{"rouge1_mean": .., "rouge1_ci_low": ..}``
    (Lumigator's flat names), plus corpus-level scores as they are."""
    if not summary:
        return {}
    flat = {
        f"{score}_{stat}": float(value)
        for score, stats in summary.get("metrics", {}).items()
        for stat, value in stats.items()
    }
    flat.update({f"{name}_corpus": float(value) for name, value in summary.get("corpus", {}).items()})
    return flat


class WorkflowRunner:
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
        self.jobs = JobRepository(session)
        self.tracking = WorkflowTracking(session)
        self.job_service = JobService(session, store, clusters, settings, signer)

    def advance(self, workflow: WorkflowRecord) -> None:
        experiment = self.session.get(ExperimentRecord, workflow.experiment_id)
        if experiment is None:
            return
        if workflow.status == WorkflowStatus.CREATED:
            if workflow.stop_requested:
                self._end(workflow, WorkflowStatus.STOPPED, "stopped before it started", None)
                return
            self._start_inference(workflow, experiment)
        elif workflow.status == WorkflowStatus.RUNNING_INFERENCE:
            job = self.jobs.by_id(workflow.inference_job_id) if workflow.inference_job_id else None
            if job is None:
                self._start_inference(workflow, experiment)
            elif job.status == JobStatus.SUCCEEDED:
                self.tracking.job_finished(workflow, job, self._artifacts(job))
                self._start_evaluation(workflow, experiment, job)
            elif JobStatus(job.status).finished:
                self.tracking.job_finished(workflow, job, {})
                self._job_ended(workflow, job, "inference")
        elif workflow.status == WorkflowStatus.RUNNING_EVALUATION:
            job = self.jobs.by_id(workflow.evaluation_job_id) if workflow.evaluation_job_id else None
            if job is None:
                self._end(workflow, WorkflowStatus.FAILED, "the evaluation job is gone", "evaluation")
            elif job.status == JobStatus.SUCCEEDED:
                self._compile(workflow, job)
                self.tracking.job_finished(workflow, job, self._artifacts(job))
                workflow.metrics = flatten_metrics(job.summary)
                self._evaluated(workflow, job)
            elif JobStatus(job.status).finished:
                self.tracking.job_finished(workflow, job, {})
                self._job_ended(workflow, job, "evaluation")

    def _compile(self, workflow: WorkflowRecord, evaluation: JobRecord) -> None:
        """Lumigator's compiled results file; a storage error leaves the workflow as it is, for
        the next pass to try again."""
        inference = self.jobs.by_id(workflow.inference_job_id) if workflow.inference_job_id else None
        dataset = self.session.get(DatasetRecord, evaluation.dataset_id) if evaluation.dataset_id else None
        if inference is not None and dataset is not None:
            compile_workflow_results(self.store, workflow, inference, evaluation, dataset.parquet_key)

    def _artifacts(self, job: JobRecord) -> dict[str, str]:
        """Result objects worth keeping beside the run: summary, predictions, scores."""
        summary = job.summary or {}
        artifacts = {SUMMARY_FILE: result_key(job.results_prefix, SUMMARY_FILE)}
        if isinstance(summary.get("predictions_key"), str):
            artifacts["predictions.parquet"] = summary["predictions_key"]
        if isinstance(summary.get("scores_key"), str):
            artifacts[SCORES_FILE] = summary["scores_key"]
        return artifacts

    def _user(self, workflow: WorkflowRecord) -> UserRecord | None:
        return self.session.get(UserRecord, workflow.created_by) if workflow.created_by else None

    def _start_inference(self, workflow: WorkflowRecord, experiment: ExperimentRecord) -> None:
        config = JobInferenceConfig(
            model=workflow.model,
            provider=workflow.provider,
            base_url=workflow.base_url,
            secret_key_name=workflow.secret_key_name,
            system_prompt=workflow.system_prompt or None,
            task_definition=experiment.task_definition,
            generation_config=GenerationConfig.model_validate(workflow.generation_config),
            provider_options=workflow.provider_options,
        )
        request = JobCreate(
            name=f"{workflow.name}-inference",
            dataset=experiment.dataset_id,
            max_samples=experiment.max_samples,
            batch_size=workflow.batch_size,
            job_config=config,
        )

        def move(job: JobRecord) -> None:
            workflow.inference_job_id = job.id
            workflow.status = WorkflowStatus.RUNNING_INFERENCE
            self.tracking.job_started(workflow, job)

        self._create_step(workflow, experiment, request, move, "inference")

    def _start_evaluation(
        self, workflow: WorkflowRecord, experiment: ExperimentRecord, inference: JobRecord
    ) -> None:
        if inference.output_dataset_id is None:
            self._end(workflow, WorkflowStatus.FAILED, "inference produced no predictions", "inference")
            return
        config = JobEvalConfig(
            secret_key_name=workflow.secret_key_name,
            task_definition=experiment.task_definition,
            metrics=workflow.metric_names,
            llm_as_judge=JudgeConfig.model_validate(workflow.judge) if workflow.judge else None,
        )
        request = JobCreate(
            name=f"{workflow.name}-evaluation",
            dataset=inference.output_dataset_id,
            max_samples=-1,
            job_config=config,
        )

        def move(job: JobRecord) -> None:
            workflow.evaluation_job_id = job.id
            workflow.status = WorkflowStatus.RUNNING_EVALUATION
            self.tracking.job_started(workflow, job)

        self._create_step(workflow, experiment, request, move, "evaluation")

    def _create_step(
        self,
        workflow: WorkflowRecord,
        experiment: ExperimentRecord,
        request: JobCreate,
        move: Callable[[JobRecord], None],
        step: str,
    ) -> None:
        """Create the step's job; one refused for what it asks (the secret's allowed hosts
        changed since the workflow was created...) fails the workflow instead of being retried
        forever."""
        try:
            self.job_service.create(experiment.project_id, self._user(workflow), request, on_created=move)
        except (InvalidInputError, PermissionDeniedError) as exc:
            self.session.rollback()
            self._end(workflow, WorkflowStatus.FAILED, f"{step} refused: {exc.message}", step)

    def _evaluated(self, workflow: WorkflowRecord, job: JobRecord) -> None:
        """A score that failed on every example was asked for and not delivered: the workflow
        fails at its evaluation step (a retry scores again; the scores that worked are kept in
        the job's result). Failures on some examples leave it succeeded, with the note in
        ``status_reason``."""
        if missing := failed_everywhere(job.summary):
            self._end(
                workflow, WorkflowStatus.FAILED, f"evaluation failed: {'; '.join(missing)}", "evaluation"
            )
        else:
            self._end(
                workflow, WorkflowStatus.SUCCEEDED, "; ".join(failed_somewhere(job.summary)) or None, None
            )

    def _job_ended(self, workflow: WorkflowRecord, job: JobRecord, step: str) -> None:
        if job.status == JobStatus.STOPPED:
            self._end(workflow, WorkflowStatus.STOPPED, f"{step} stopped", step)
        else:
            self._end(
                workflow,
                WorkflowStatus.FAILED,
                f"{step} failed: {job.status_reason or 'no reason given'}",
                step,
            )

    def _end(
        self, workflow: WorkflowRecord, status: WorkflowStatus, reason: str | None, step: str | None
    ) -> None:
        workflow.status = status
        workflow.status_reason = reason
        workflow.failed_step = step
        self.tracking.workflow_finished(workflow)
        self.session.commit()
        log.info("workflow %s %s%s", workflow.id, status, f": {reason}" if reason else "")
