"""Side-by-side comparison of an experiment's workflows, from results already in SQL and
storage: aggregate scores with confidence intervals, the best model per metric (or the tie),
scores that failed and why, latency and cost, and per-example rows that can be sorted by how
much the models disagree."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH, PREDICTIONS
from assay.errors import InvalidInputError
from assay.evaluation.failures import describe_failure, failures_of
from assay.records import JobRecord, JobStatus, WorkflowRecord, WorkflowStatus
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
    status_reason: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    scores_key: str | None = None


@dataclass
class Comparison:
    experiment_id: str
    experiment_name: str
    task: str
    workflows: list[WorkflowScores]
    best: dict[str, str]
    ties: dict[str, list[str]]

    @property
    def score_names(self) -> list[str]:
        """Every score any workflow has, or failed to compute: a failed score is a column too."""
        failed = {score for w in self.workflows for score in w.failures if score != PREDICTIONS}
        return sorted(failed.union(*(w.metrics for w in self.workflows)))

    @property
    def warnings(self) -> list[str]:
        """What a reader must know before trusting the numbers: failed scores and workflows."""
        notes: list[str] = []
        for workflow in self.workflows:
            notes.extend(
                f"{workflow.name}: {describe_failure(score, stats)}"
                for score, stats in workflow.failures.items()
            )
            if workflow.status in (WorkflowStatus.FAILED, WorkflowStatus.STOPPED) and not workflow.failures:
                notes.append(
                    f"{workflow.name}: {workflow.status}: {workflow.status_reason or 'no reason given'}"
                )
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "task": self.task,
            "best": self.best,
            "ties": self.ties,
            "warnings": self.warnings,
            "workflows": [vars(workflow) for workflow in self.workflows],
        }


def lower_is_better(score: str) -> bool:
    return any(score.startswith(name) for name in LOWER_IS_BETTER)


def _same(first: float, second: float) -> bool:
    return math.isclose(first, second, rel_tol=1e-9, abs_tol=1e-12)


def rank_per_metric(workflows: list[WorkflowScores]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Per score compared across two workflows or more: the one workflow with the strictly best
    mean (lowest for error rates such as TER), or, when several share the best mean, the tie."""
    best: dict[str, str] = {}
    ties: dict[str, list[str]] = {}
    scores = {score for workflow in workflows for score in workflow.metrics}
    for score in sorted(scores):
        means = [(w.workflow_id, w.metrics[score]["mean"]) for w in workflows if score in w.metrics]
        if len(means) < 2:
            continue
        pick = min if lower_is_better(score) else max
        top = pick(mean for _, mean in means)
        leaders = [workflow_id for workflow_id, mean in means if _same(mean, top)]
        if len(leaders) == 1:
            best[score] = leaders[0]
        else:
            ties[score] = leaders
    return best, ties


class ComparisonService:
    def __init__(self, session: Session, store: ObjectStore, experiments: ExperimentService) -> None:
        self.session = session
        self.store = store
        self.experiments = experiments
        self.workflows = WorkflowRepository(session)

    def compare(self, project_id: str, experiment_id: uuid.UUID) -> Comparison:
        view = self.experiments.get(project_id, experiment_id)
        scored = [self._scores(workflow) for workflow in view.workflows]
        best, ties = rank_per_metric(scored)
        return Comparison(
            experiment_id=str(view.experiment.id),
            experiment_name=view.experiment.name,
            task=str(view.experiment.task_definition.get("task", "")),
            workflows=scored,
            best=best,
            ties=ties,
        )

    def _scores(self, workflow: WorkflowRecord) -> WorkflowScores:
        scores = WorkflowScores(
            workflow_id=str(workflow.id),
            name=workflow.name,
            model=workflow.model,
            provider=workflow.provider,
            status=workflow.status,
            status_reason=workflow.status_reason,
        )
        job = self.session.get(JobRecord, workflow.evaluation_job_id) if workflow.evaluation_job_id else None
        # A workflow that failed because a score failed everywhere still shows the scores that worked.
        if job is not None and job.status == JobStatus.SUCCEEDED and job.summary:
            scores.metrics = job.summary.get("metrics", {})
            scores.failures = failures_of(job.summary)
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
        The per-example scores live in each evaluation's Parquet table, not in SQL: the order is
        computed on that one score column (Arrow, vectorised), and only the page's rows become
        Python objects, so a page of a 10,000-example experiment costs what its rows cost.
        """
        comparison = self.compare(project_id, experiment_id)
        ready = [workflow for workflow in comparison.workflows if workflow.scores_key]
        tables = {workflow.workflow_id: self._read(workflow.scores_key) for workflow in ready}
        count = min((table.num_rows for table in tables.values()), default=0)
        order = pa.array(range(count), pa.int64())
        if sort_by_disagreement and count:
            order = _by_disagreement(list(tables.values()), sort_by_disagreement, count)
        page = order.slice(offset, limit)
        page_rows = {workflow_id: table.take(page).to_pylist() for workflow_id, table in tables.items()}
        rows: list[dict[str, Any]] = []
        for position, index in enumerate(page.to_pylist()):
            first = next(iter(page_rows.values()))[position]
            outputs = {
                workflow_id: _output(table_rows[position]) for workflow_id, table_rows in page_rows.items()
            }
            # The row's keys are the examples API's fields (named after the columns), not columns.
            rows.append(
                {
                    "index": index,
                    "example": first.get(EXAMPLES),
                    "ground_truth": first.get(GROUND_TRUTH),
                    "outputs": outputs,
                }
            )
        return {
            "total": count,
            "offset": offset,
            "limit": limit,
            "workflows": {w.workflow_id: {"name": w.name, "model": w.model} for w in ready},
            "rows": rows,
        }

    def _read(self, key: str | None) -> pa.Table:
        assert key is not None
        with self.store.open_reader(key) as reader:
            return pq.read_table(reader)


def _output(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "prediction": row.get(PREDICTIONS),
        "errors": {"llm_judge": row["judge_error"]} if row.get("judge_error") else {},
        "scores": {
            key[len(SCORE_PREFIX) :]: value for key, value in row.items() if key.startswith(SCORE_PREFIX)
        },
    }


def _by_disagreement(tables: list[pa.Table], score: str, count: int) -> pa.Array:
    """Example indices, largest spread of ``score`` between models first (0 where fewer than
    two models have it), ties in example order: what sorting rows by ``spread`` gives."""
    column = f"{SCORE_PREFIX}{score}"
    if not any(column in table.column_names for table in tables):
        known = sorted(
            {
                name[len(SCORE_PREFIX) :]
                for t in tables
                for name in t.column_names
                if name.startswith(SCORE_PREFIX)
            }
        )
        raise InvalidInputError(f"unknown score {score!r}; scores: {', '.join(known)}", field="disagreement")
    values = [
        pc.cast(table.column(column).slice(0, count), pa.float64())
        for table in tables
        if column in table.column_names
    ]
    present = values[0].is_valid().cast(pa.int64())
    for value in values[1:]:
        present = pc.add(present, value.is_valid().cast(pa.int64()))
    highest = pc.max_element_wise(*values, skip_nulls=True)
    lowest = pc.min_element_wise(*values, skip_nulls=True)
    spreads = pc.if_else(pc.greater_equal(present, 2), pc.subtract(highest, lowest), 0.0)
    ranked = pa.table({"spread": spreads, "index": pa.array(range(count), pa.int64())})
    positions = pc.sort_indices(ranked, sort_keys=[("spread", "descending"), ("index", "ascending")])
    return ranked.column("index").take(positions).combine_chunks()


def spread(row: dict[str, Any], score: str) -> float:
    """How far apart the models' ``score`` is on one example row (0 with fewer than two values)."""
    values = [output["scores"].get(score) for output in row["outputs"].values()]
    present = [value for value in values if value is not None]
    return max(present) - min(present) if len(present) > 1 else 0.0
