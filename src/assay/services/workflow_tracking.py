"""What experiments, workflows and their jobs look like in the tracking server.

Experiment ↔ tracking experiment, workflow ↔ parent run, job ↔ nested run. Every method only
enqueues (``TrackingOutbox``) in the caller's transaction: SQL decides, tracking follows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assay.records import ExperimentRecord, JobRecord, JobStatus, WorkflowRecord, WorkflowStatus
from assay.services.tracking import TrackingOutbox
from assay.tracking import RunStatus

RUN_STATUS = {
    JobStatus.SUCCEEDED: RunStatus.FINISHED,
    JobStatus.FAILED: RunStatus.FAILED,
    JobStatus.STOPPED: RunStatus.KILLED,
    WorkflowStatus.SUCCEEDED: RunStatus.FINISHED,
    WorkflowStatus.FAILED: RunStatus.FAILED,
    WorkflowStatus.STOPPED: RunStatus.KILLED,
}


def experiment_key(experiment_id: object) -> str:
    return f"experiment/{experiment_id}"


def workflow_key(workflow_id: object) -> str:
    return f"workflow/{workflow_id}"


def job_key(job_id: object) -> str:
    return f"job/{job_id}"


def _numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a summary, as dotted metric names."""
    found: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[f"{prefix}{name}"] = float(value)
        elif isinstance(value, dict):
            found.update(_numbers(value, f"{prefix}{name}."))
    return found


class WorkflowTracking:
    def __init__(self, session: Session) -> None:
        self.outbox = TrackingOutbox(session)

    def experiment_created(self, experiment: ExperimentRecord) -> None:
        self.outbox.ensure_experiment(
            experiment_key(experiment.id),
            experiment.name,
            {
                "assay.project": experiment.project_id,
                "assay.dataset": str(experiment.dataset_id),
                "assay.task": experiment.task_definition.get("task"),
            },
        )

    def workflow_created(self, workflow: WorkflowRecord) -> None:
        experiment = experiment_key(workflow.experiment_id)
        run = workflow_key(workflow.id)
        self.outbox.ensure_run(experiment, run, workflow.name, tags={"assay.model": workflow.model})
        self.outbox.log_params(
            experiment,
            run,
            {
                "model": workflow.model,
                "provider": workflow.provider,
                "base_url": workflow.base_url,
                "system_prompt": workflow.system_prompt,
                "generation": workflow.generation_config,
                "metrics": ",".join(workflow.metric_names or []),
                "batch_size": workflow.batch_size,
            },
        )

    def job_started(self, workflow: WorkflowRecord, job: JobRecord) -> None:
        experiment = experiment_key(workflow.experiment_id)
        self.outbox.ensure_run(
            experiment,
            job_key(job.id),
            job.name,
            parent=workflow_key(workflow.id),
            tags={"assay.kind": job.kind},
        )
        self.outbox.log_params(experiment, job_key(job.id), {"kind": job.kind, "config": job.config})

    def job_finished(self, workflow: WorkflowRecord, job: JobRecord, artifacts: dict[str, str]) -> None:
        """Metrics from the job's summary, its result objects as artifacts, and its end."""
        experiment = experiment_key(workflow.experiment_id)
        run = job_key(job.id)
        metrics = _numbers(job.summary or {})
        if metrics:
            self.outbox.log_metrics(experiment, run, metrics)
        for path, object_key in artifacts.items():
            self.outbox.log_artifact(experiment, run, path, object_key)
        self.outbox.end_run(experiment, run, RUN_STATUS[JobStatus(job.status)])

    def workflow_finished(self, workflow: WorkflowRecord) -> None:
        experiment = experiment_key(workflow.experiment_id)
        run = workflow_key(workflow.id)
        if workflow.metrics:
            self.outbox.log_metrics(experiment, run, workflow.metrics)
        self.outbox.end_run(experiment, run, RUN_STATUS[WorkflowStatus(workflow.status)])

    def workflow_deleted(self, workflow: WorkflowRecord, job_ids: list[Any]) -> None:
        experiment = experiment_key(workflow.experiment_id)
        for job_id in job_ids:
            self.outbox.delete_run(experiment, job_key(job_id))
        self.outbox.delete_run(experiment, workflow_key(workflow.id))

    def experiment_deleted(self, experiment: ExperimentRecord) -> None:
        self.outbox.delete_experiment(experiment_key(experiment.id))
