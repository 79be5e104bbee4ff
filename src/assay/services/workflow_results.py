"""A succeeded workflow's compiled results file, as Lumigator's web app reads it.

Lumigator merges its jobs' result files into one JSON behind ``artifacts_download_url``:
``artifacts`` (examples, ground truth, predictions, model, inference and evaluation time),
``metrics`` (per family, per-example lists and ``_mean`` values) and ``parameters``. It is
written once, when the workflow succeeds, beside the evaluation job's results (so it goes with
that job), from the evaluation's ``results.json`` and the predictions it scored.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH, PREDICTIONS
from assay.errors import ConflictError
from assay.records import JobRecord, WorkflowRecord, WorkflowStatus
from assay.storage import ObjectStore
from assay.storage.layout import COMPILED_FILE, job_results_prefix, result_key


def _key(project_id: str, evaluation_job_id: uuid.UUID) -> str:
    return result_key(job_results_prefix(project_id, evaluation_job_id), COMPILED_FILE)


def compiled_results_key(workflow: WorkflowRecord) -> str | None:
    """Where the compiled file of a succeeded workflow is; None before it succeeded."""
    if workflow.status != WorkflowStatus.SUCCEEDED or workflow.evaluation_job_id is None:
        return None
    return _key(workflow.project_id, workflow.evaluation_job_id)


def require_compiled_results_key(workflow: WorkflowRecord) -> str:
    key = compiled_results_key(workflow)
    if key is None:
        raise ConflictError(
            f"workflow {workflow.id} has no results yet (status: {workflow.status})", field="workflow_id"
        )
    return key


def _examples(store: ObjectStore, dataset_key: str) -> list[str]:
    with store.open_reader(dataset_key) as reader:
        table = pq.read_table(reader, columns=[EXAMPLES])
    return ["" if value is None else str(value) for value in table.column(EXAMPLES).to_pylist()]


def compile_workflow_results(
    store: ObjectStore,
    workflow: WorkflowRecord,
    inference: JobRecord,
    evaluation: JobRecord,
    dataset_key: str,
) -> None:
    """Writes the compiled file; does nothing for an evaluation without ``results.json``."""
    results_key = (evaluation.summary or {}).get("results_key")
    if not isinstance(results_key, str) or workflow.evaluation_job_id is None:
        return
    with store.open_reader(results_key) as reader:
        output: dict[str, Any] = json.loads(reader.read())
    scored = output.get("artifacts") or {}
    predictions: list[str] = scored.get(PREDICTIONS, [])
    compiled = {
        "artifacts": {
            EXAMPLES: _examples(store, dataset_key)[: len(predictions)],
            GROUND_TRUTH: scored.get(GROUND_TRUTH, []),
            PREDICTIONS: predictions,
            "model": workflow.model,
            "inference_time": (inference.summary or {}).get("duration_s"),
            "evaluation_time": scored.get("evaluation_time"),
        },
        "metrics": output.get("metrics", {}),
        "parameters": {
            **output.get("parameters", {}),
            "model": workflow.model,
            "provider": workflow.provider,
            "system_prompt": workflow.system_prompt,
            "generation_config": workflow.generation_config,
        },
    }
    writer = store.open_writer(_key(workflow.project_id, workflow.evaluation_job_id), "application/json")
    writer.write(json.dumps(compiled, ensure_ascii=False).encode())
    writer.commit()
