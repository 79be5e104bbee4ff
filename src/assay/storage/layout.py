"""Every object key Assay writes, built in one place.

The object store holds everything of a project under ``projects/{project}/``, so that deleting
a project is one prefix. Below it:

- ``datasets/{dataset}/``: ``original/{filename}`` (the upload as sent, ``.zst`` for CSV and
  JSONL) and ``dataset.parquet`` (the canonical table). A job's output dataset is a dataset
  prefix reserved when the job is created; the job writes its ``dataset.parquet``.
- ``files/{version}/content``: one version of a project file.
- ``jobs/{job}/``: ``config.json`` (the job document), ``logs.txt`` (kept logs),
  ``worker-output.txt`` (a warm worker's output until it is kept) and ``results/`` (what the
  job writes: ``summary.json``, ``failure.json``, ``scores.parquet``, ``results.json``,
  ``compiled.json``, ``checkpoint/`` and ``scratch/``, where model-backed metrics such as the
  LLM judge run their own inference, one folder per attempt).
- ``inference-cache/``: the project's response cache (its inner layout is the cache's own).

A job's scope (``services/job_scope.py``) is expressed in these prefixes, and the cleanup
outbox deletes by them; changing a key here changes it everywhere.
"""

from __future__ import annotations

import uuid

PROJECTS = "projects"
SUMMARY_FILE = "summary.json"
FAILURE_FILE = "failure.json"
SCORES_FILE = "scores.parquet"
LUMIGATOR_RESULTS_FILE = "results.json"
COMPILED_FILE = "compiled.json"
TABLE_FILE = "dataset.parquet"


def project_prefix(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}/"


def dataset_prefix(project_id: str, dataset_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}datasets/{dataset_id}/"


def dataset_table_key(dataset_prefix: str) -> str:
    """The canonical Parquet table of a dataset (an upload's copy, or a job's output)."""
    return f"{dataset_prefix}{TABLE_FILE}"


def dataset_original_key(dataset_prefix: str, filename: str) -> str:
    return f"{dataset_prefix}original/{filename}"


def file_prefix(project_id: str, file_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}files/{file_id}/"


def file_content_key(file_prefix: str) -> str:
    return f"{file_prefix}content"


def job_prefix(project_id: str, job_id: uuid.UUID) -> str:
    return f"{project_prefix(project_id)}jobs/{job_id}/"


def job_document_key(project_id: str, job_id: uuid.UUID) -> str:
    return f"{job_prefix(project_id, job_id)}config.json"


def job_results_prefix(project_id: str, job_id: uuid.UUID) -> str:
    return f"{job_prefix(project_id, job_id)}results/"


def job_logs_key(project_id: str, job_id: uuid.UUID) -> str:
    """The job's output as kept (redacted) after the engine forgets it."""
    return f"{job_prefix(project_id, job_id)}logs.txt"


def worker_output_key(project_id: str, job_id: uuid.UUID) -> str:
    """Where a warm worker leaves a job's output until the reconciler keeps it."""
    return f"{job_prefix(project_id, job_id)}worker-output.txt"


def inference_cache_prefix(project_id: str) -> str:
    return f"{project_prefix(project_id)}inference-cache/"


def result_key(results_prefix: str, filename: str) -> str:
    """One of the files a job writes in its results prefix (the ``*_FILE`` names above)."""
    return f"{results_prefix}{filename}"


def checkpoint_prefix(results_prefix: str) -> str:
    return f"{results_prefix}checkpoint/"


def scratch_prefix(results_prefix: str) -> str:
    """Where model-backed metrics (the LLM judge) run their own inference (``judge_attempt_keys``)."""
    return f"{results_prefix}scratch/"


def judge_attempt_keys(scratch_prefix: str, attempt: str) -> tuple[str, str, str]:
    """The prompts table, the answers table and the checkpoint prefix of one judge attempt."""
    base = f"{scratch_prefix}{attempt}/"
    return f"{base}prompts.parquet", f"{base}answers.parquet", checkpoint_prefix(base)
