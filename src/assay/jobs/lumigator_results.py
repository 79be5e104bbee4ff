"""The evaluation result in Lumigator's ``results.json`` shape, beside Assay's own summary.

Lumigator's evaluator writes ``{"metrics", "parameters", "artifacts"}`` (its ``JobOutput``), and
notebooks and its web app read those keys: per metric family, one list per score and a
``<score>_mean`` for each. Assay's summary (CIs, corpus scores, failures) stays the native
result; this file is what ``/jobs/{id}/result/download`` hands out for an evaluation, and the
workflow's compiled results are built from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from assay.datasets.columns import GROUND_TRUTH, PREDICTIONS
from assay.jobs.document import JobDocument
from assay.metrics import MetricResult
from assay.storage import ObjectStore
from assay.storage.layout import LUMIGATOR_RESULTS_FILE, result_key

_BERTSCORE_PREFIX = "bertscore_"


def _family(result: MetricResult) -> dict[str, Any]:
    """One metric's scores as Lumigator names them: ``rouge1`` and ``rouge1_mean`` for ROUGE,
    ``precision``/``recall``/``f1`` for BERTScore (whose Assay names carry a prefix)."""
    family: dict[str, Any] = {}
    for score, values in result.per_example.items():
        name = score.removeprefix(_BERTSCORE_PREFIX) if result.metric == "bertscore" else score
        family[name] = scored_values(result, values)
        if score in result.aggregates:  # a model-backed metric that failed everywhere has no mean
            family[f"{name}_mean"] = result.aggregates[score].mean
    for score, value in result.corpus.items():
        family[f"{score}_corpus"] = value
    if result.metric == "bertscore":
        from assay.metrics.bertscore import BertScore

        family["hashcode"] = BertScore().hashcode()
    return family


def scored_values(result: MetricResult, values: list[float]) -> list[float | None]:
    """One score's values, missing (``None``) where the metric failed on the example."""
    if not result.errors:
        return list(values)
    return [None if error else value for value, error in zip(values, result.errors, strict=True)]


def lumigator_results(
    document: JobDocument,
    metric_names: Sequence[str],
    results: Mapping[str, MetricResult],
    predictions: list[str],
    references: list[str],
    evaluation_time: float,
) -> dict[str, Any]:
    """Lumigator's ``JobOutput`` of an evaluation: metrics, the evaluator's config, artifacts."""
    return {
        "metrics": {name: _family(result) for name, result in results.items()},
        "parameters": {
            "name": document.name,
            "dataset": {"path": document.input_parquet_key or ""},
            "evaluation": {
                "metrics": list(metric_names),
                "max_samples": document.max_samples,
                "return_input_data": True,
                "return_predictions": True,
                "storage_path": document.results_prefix,
            },
        },
        "artifacts": {
            PREDICTIONS: predictions,
            GROUND_TRUTH: references,
            "evaluation_time": evaluation_time,
        },
    }


def write_lumigator_results(store: ObjectStore, document: JobDocument, output: dict[str, Any]) -> str:
    """Stores the file in the job's results prefix; returns its key."""
    key = result_key(document.results_prefix, LUMIGATOR_RESULTS_FILE)
    writer = store.open_writer(key, "application/json")
    writer.write(json.dumps(output, ensure_ascii=False).encode())
    writer.commit()
    return key
