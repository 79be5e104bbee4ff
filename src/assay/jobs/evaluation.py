"""The evaluation job: score a predictions dataset with the requested metrics.

Writes every example's scores as Parquet beside the summary, so that comparisons can show
examples side by side without recomputing anything.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH, PREDICTIONS
from assay.evaluation.failures import failure_summary
from assay.evaluation.plan import metric_plan
from assay.jobs.document import JobDocument
from assay.jobs.lumigator_results import lumigator_results, scored_values, write_lumigator_results
from assay.metrics import compute_metrics
from assay.metrics.base import ModelContext
from assay.schemas.jobs import JobEvalConfig
from assay.storage import ObjectStore, layout

log = logging.getLogger(__name__)
USAGE_COLUMNS = ("latency_ms", "prompt_tokens", "completion_tokens", "cost")


def _read_table(store: ObjectStore, key: str, max_samples: int) -> pa.Table:
    with store.open_reader(key) as reader:
        table = pq.read_table(reader)
    return table.slice(0, max_samples) if max_samples >= 0 else table


def _texts(table: pa.Table, column: str) -> list[str]:
    return ["" if value is None else str(value) for value in table.column(column).to_pylist()]


def usage_summary(table: pa.Table) -> dict[str, dict[str, float]]:
    """Mean, median, p95 and total of each usage column the inference job wrote."""
    summary: dict[str, dict[str, float]] = {}
    for column in USAGE_COLUMNS:
        if column not in table.column_names:
            continue
        values = sorted(
            float(v) for v in table.column(column).to_pylist() if v is not None and not math.isnan(v)
        )
        if not values:
            continue
        summary[column] = {
            "mean": sum(values) / len(values),
            "p50": values[len(values) // 2],
            "p95": values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)],
            "total": sum(values),
        }
    return summary


def run(document: JobDocument, store: ObjectStore, api_key: str | None) -> dict[str, object]:
    config = JobEvalConfig.model_validate(document.config)
    assert document.input_parquet_key is not None
    table = _read_table(store, document.input_parquet_key, document.max_samples)
    # Resolved when the job was created; a document from before that is resolved here.
    plan = document.metrics if document.metrics is not None else metric_plan(config)
    names = list(plan)
    predictions = _texts(table, PREDICTIONS)
    # A reference-free evaluation (checked when the job was created) reads a dataset without.
    references = _texts(table, GROUND_TRUTH) if GROUND_TRUTH in table.column_names else None
    log.info("scoring %d examples with %s", table.num_rows, ", ".join(names))
    started = time.perf_counter()
    results = compute_metrics(
        names,
        predictions,
        references,
        inputs=_texts(table, EXAMPLES) if EXAMPLES in table.column_names else None,
        options={name: options for name, options in plan.items() if options},
        context=ModelContext(
            store,
            scratch_prefix=layout.scratch_prefix(document.results_prefix),
            cache_prefix=layout.inference_cache_prefix(document.project_id),
            api_key=api_key,
        ),
    )
    lumigator = lumigator_results(
        document, names, results, predictions, references or [], time.perf_counter() - started
    )

    scores: dict[str, list[float | None]] = {}
    aggregates: dict[str, dict[str, float]] = {}
    corpus: dict[str, float] = {}
    reports: dict[str, Any] = {}
    failures: dict[str, dict[str, Any]] = {}
    if "error" in table.column_names and (missing := failure_summary(table.column("error").to_pylist())):
        failures[PREDICTIONS] = missing
    extra_columns: dict[str, pa.Array] = {}
    for result in results.values():
        for score, values in result.per_example.items():
            scores[score] = scored_values(result, values)
        aggregates.update({score: aggregate.to_dict() for score, aggregate in result.aggregates.items()})
        corpus.update(result.corpus)
        reports.update(result.report)
        if failed := failure_summary(result.errors):
            failures[result.metric] = failed
        extra_columns.update({name: pa.array(texts, pa.string()) for name, texts in result.details.items()})

    key = layout.result_key(document.results_prefix, layout.SCORES_FILE)
    columns: dict[str, Any] = {
        name: table.column(name)
        for name in (EXAMPLES, GROUND_TRUTH, PREDICTIONS)
        if name in table.column_names
    }
    columns.update({f"score.{name}": pa.array(values, pa.float64()) for name, values in scores.items()})
    columns.update(extra_columns)
    writer = store.open_writer(key, "application/vnd.apache.parquet")
    pq.write_table(pa.table(columns), writer, compression="zstd")
    writer.commit()
    return {
        "results_key": write_lumigator_results(store, document, lumigator),
        "examples": table.num_rows,
        "metrics": aggregates,
        "corpus": corpus,
        "usage": usage_summary(table),
        "scores_key": key,
        "metric_names": names,
        "failures": failures,
        **reports,
    }
