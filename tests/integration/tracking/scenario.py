"""One workflow's tracking, as the workflow service enqueues it, and the checks that MLflow shows
it whole: an experiment, a workflow run with a nested job run, parameters, metrics, an artifact."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.records import TrackingOutboxRecord
from assay.services.tracking import TrackingOutbox
from assay.storage import ObjectStore
from assay.tracking import KEY_TAG, RunStatus

SECRET = "sk-live-0123456789abcdef"
PREDICTIONS = b'{"example": "a", "prediction": "b"}\n' * 1000
METRICS = {"rouge1": 0.41, "bleu": 12.5, "bertscore/f1": 0.88, "unstable": math.nan}


@dataclass(frozen=True)
class Workflow:
    """The keys of one experiment's tracking stream."""

    experiment: str
    run: str
    job: str

    @classmethod
    def named(cls, prefix: str) -> Workflow:
        return cls(f"{prefix}/experiment", f"{prefix}/workflow", f"{prefix}/job")

    def start(self, session: Session, store: ObjectStore) -> None:
        """What happens when the workflow starts: its experiment and runs, its configuration."""
        outbox = TrackingOutbox(session)
        outbox.ensure_experiment(
            self.experiment, f"summaries {self.experiment}", {"assay.project": "default"}
        )
        outbox.ensure_run(self.experiment, self.run, "bart-large", tags={"assay.kind": "workflow"})
        outbox.log_params(
            self.experiment,
            self.run,
            {
                "model": "facebook/bart-large-cnn",
                "generation": {"temperature": 0.2, "max_tokens": 64},
                "api_key": SECRET,
                "base_url": f"https://user:{SECRET}@llm.example/v1",
                "headers": {"Authorization": f"Bearer {SECRET}"},
            },
        )
        outbox.ensure_run(self.experiment, self.job, "inference", parent=self.run)
        outbox.set_tags(self.experiment, self.job, {"assay.kind": "inference", "token": SECRET})
        writer = store.open_writer(f"{self.run}/predictions.jsonl")
        writer.write(PREDICTIONS)
        writer.commit()

    def finish(self, session: Session) -> None:
        """What happens when it succeeds: metrics, the predictions artifact, the runs ended."""
        outbox = TrackingOutbox(session)
        outbox.log_metrics(self.experiment, self.job, {"latency_s": 1.5, "tokens": 2048})
        outbox.end_run(self.experiment, self.job, RunStatus.FINISHED)
        outbox.log_metrics(self.experiment, self.run, METRICS)
        outbox.log_artifact(
            self.experiment, self.run, "results/predictions.jsonl", f"{self.run}/predictions.jsonl"
        )
        outbox.end_run(self.experiment, self.run, RunStatus.FINISHED)

    def enqueue(self, session: Session, store: ObjectStore) -> None:
        self.start(session, store)
        self.finish(session)
        session.commit()


def runs_with_key(client: MlflowClient, experiment_id: str, key: str) -> list[Run]:
    return client.search_runs([experiment_id], f"tags.`{KEY_TAG}` = '{key}'", run_view_type=ViewType.ALL)


def experiment_id(client: MlflowClient, key: str) -> str:
    found = client.search_experiments(view_type=ViewType.ALL, filter_string=f"tags.`{KEY_TAG}` = '{key}'")
    assert len(found) == 1, f"{len(found)} experiments carry the key {key}"
    return found[0].experiment_id


def assert_mirrored(client: MlflowClient, workflow: Workflow, tmp: Path) -> None:
    """Everything the workflow enqueued is in MLflow, once, with secrets redacted."""
    experiment = experiment_id(client, workflow.experiment)
    [parent] = runs_with_key(client, experiment, workflow.run)
    [job] = runs_with_key(client, experiment, workflow.job)
    assert parent.info.run_name == "bart-large"
    assert parent.info.status == "FINISHED" and job.info.status == "FINISHED"
    assert job.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert job.data.tags["assay.kind"] == "inference"
    assert job.data.tags["token"] == "<REDACTED>"

    params = parent.data.params
    assert params["model"] == "facebook/bart-large-cnn"
    assert params["generation.temperature"] == "0.2"
    assert params["generation.max_tokens"] == "64"
    assert params["api_key"] == "<REDACTED>"
    assert params["headers.Authorization"] == "<REDACTED>"
    assert params["base_url"] == "https://user:<REDACTED>@llm.example/v1"
    assert not any(SECRET in value for value in [*params.values(), *job.data.tags.values()])

    metrics = parent.data.metrics
    assert {name: value for name, value in metrics.items() if name != "unstable"} == {
        name: value for name, value in METRICS.items() if name != "unstable"
    }
    assert math.isnan(metrics["unstable"])
    assert job.data.metrics == {"latency_s": 1.5, "tokens": 2048.0}
    for run in (parent, job):
        for name in run.data.metrics:
            assert len(client.get_metric_history(run.info.run_id, name)) == 1, f"{name} logged twice"

    downloaded = client.download_artifacts(parent.info.run_id, "results/predictions.jsonl", str(tmp))
    assert Path(downloaded).read_bytes() == PREDICTIONS


def pending(session: Session) -> list[TrackingOutboxRecord]:
    session.expire_all()
    return list(session.scalars(select(TrackingOutboxRecord).order_by(TrackingOutboxRecord.id)))
