"""Side-by-side comparison of an experiment's workflows, from results already in SQL and
storage: aggregate scores with confidence intervals, the best model per metric, latency and
cost, and per-example rows that can be sorted by how much the models disagree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from assay.errors import InvalidInputError
from assay.records import JobRecord, WorkflowRecord, WorkflowStatus
from assay.repositories.experiments import WorkflowRepository
from assay.services.experiments import ExperimentService
from assay.storage import ObjectStore

LOWER_IS_BETTER = ("ter",)
SCORE_PREFIX = "score."


@dataclass
class WorkflowScores:
    workflow_id: str
    name: str
    model: str
    provider: str
    status: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    scores_key: str | None = None


@dataclass
class Comparison:
    experiment_id: str
    experiment_name: str
    task: str
    workflows: list[WorkflowScores]
    best: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "task": self.task,
            "best": self.best,
            "workflows": [vars(workflow) for workflow in self.workflows],
        }


def _better(score: str, candidate: float, current: float) -> bool:
    lower = any(score.startswith(name) for name in LOWER_IS_BETTER)
    return candidate < current if lower else candidate > current


def best_per_metric(workflows: list[WorkflowScores]) -> dict[str, str]:
    """The workflow with the best mean per score (lowest for error rates such as TER)."""
    best: dict[str, tuple[str, float]] = {}
    for workflow in workflows:
        for score, stats in workflow.metrics.items():
            mean = stats["mean"]
            if score not in best or _better(score, mean, best[score][1]):
                best[score] = (workflow.workflow_id, mean)
    return {score: workflow_id for score, (workflow_id, _) in best.items()}


class ComparisonService:
    def __init__(self, session: Session, store: ObjectStore, experiments: ExperimentService) -> None:
        self.session = session
        self.store = store
        self.experiments = experiments
        self.workflows = WorkflowRepository(session)

    def compare(self, project_id: str, experiment_id: uuid.UUID) -> Comparison:
        view = self.experiments.get(project_id, experiment_id)
        scored = [self._scores(workflow) for workflow in view.workflows]
        return Comparison(
            experiment_id=str(view.experiment.id),
            experiment_name=view.experiment.name,
            task=str(view.experiment.task_definition.get("task", "")),
            workflows=scored,
            best=best_per_metric(scored),
        )

    def _scores(self, workflow: WorkflowRecord) -> WorkflowScores:
        scores = WorkflowScores(
            workflow_id=str(workflow.id),
            name=workflow.name,
            model=workflow.model,
            provider=workflow.provider,
            status=workflow.status,
        )
        job = self.session.get(JobRecord, workflow.evaluation_job_id) if workflow.evaluation_job_id else None
        if workflow.status == WorkflowStatus.SUCCEEDED and job is not None and job.summary:
            scores.metrics = job.summary.get("metrics", {})
            scores.usage = job.summary.get("usage", {})
            scores.scores_key = job.summary.get("scores_key")
        return scores

    def examples(
        self,
        project_id: str,
        experiment_id: uuid.UUID,
        offset: int,
        limit: int,
        sort_by_disagreement: str | None = None,
    ) -> dict[str, Any]:
        """Rows of input, reference and each model's output and scores, aligned by example.

        ``sort_by_disagreement`` names a score: rows come largest spread between models first.
        """
        comparison = self.compare(project_id, experiment_id)
        ready = [workflow for workflow in comparison.workflows if workflow.scores_key]
        tables = {workflow.workflow_id: self._read(workflow.scores_key) for workflow in ready}
        count = min((len(rows) for rows in tables.values()), default=0)
        rows: list[dict[str, Any]] = []
        for index in range(count):
            first = next(iter(tables.values()))[index]
            outputs = {
                workflow_id: {
                    "prediction": table[index].get("predictions"),
                    "scores": {
                        key[len(SCORE_PREFIX) :]: value
                        for key, value in table[index].items()
                        if key.startswith(SCORE_PREFIX)
                    },
                }
                for workflow_id, table in tables.items()
            }
            rows.append(
                {
                    "index": index,
                    "example": first.get("examples"),
                    "ground_truth": first.get("ground_truth"),
                    "outputs": outputs,
                }
            )
        if sort_by_disagreement:
            known = {
                score for row in rows[:1] for output in row["outputs"].values() for score in output["scores"]
            }
            if rows and sort_by_disagreement not in known:
                raise InvalidInputError(
                    f"unknown score {sort_by_disagreement!r}; scores: {', '.join(sorted(known))}",
                    field="disagreement",
                )
            rows.sort(key=lambda row: -_spread(row, sort_by_disagreement))
        return {
            "total": len(rows),
            "offset": offset,
            "limit": limit,
            "workflows": {w.workflow_id: {"name": w.name, "model": w.model} for w in ready},
            "rows": rows[offset : offset + limit],
        }

    def _read(self, key: str | None) -> list[dict[str, Any]]:
        assert key is not None
        with self.store.open_reader(key) as reader:
            rows: list[dict[str, Any]] = pq.read_table(reader).to_pylist()
        return rows


def _spread(row: dict[str, Any], score: str) -> float:
    values = [output["scores"].get(score) for output in row["outputs"].values()]
    present = [value for value in values if value is not None]
    return max(present) - min(present) if len(present) > 1 else 0.0
