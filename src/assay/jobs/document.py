"""The job document: everything an entrypoint needs, written to object storage as JSON.

The API writes it; the entrypoint on the cluster reads it by key. Nothing in it is inlined
into a command line, so prompts with quotes, apostrophes and newlines travel untouched.
Secrets are not in it: the job asks the internal job API for its provider key at run time.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from assay.storage.layout import SUMMARY_FILE, dataset_table_key, result_key


class JobDocument(BaseModel):
    job_id: uuid.UUID
    kind: str
    project_id: str
    name: str
    input_parquet_key: str | None
    results_prefix: str
    output_dataset_prefix: str | None
    max_samples: int
    batch_size: int
    config: dict[str, Any]
    # An inference job's model (``inference.config.ModelChoice``), resolved when it was created.
    model: dict[str, Any] | None = None
    # An evaluation job's metrics, each with its options (``evaluation.plan``), resolved likewise.
    metrics: dict[str, dict[str, Any]] | None = None
    # Multi-user mode: a script's command never runs outside the sandbox (``jobs/sandbox.py``).
    sandbox_required: bool = False

    @property
    def summary_key(self) -> str:
        return result_key(self.results_prefix, SUMMARY_FILE)

    @property
    def output_parquet_key(self) -> str | None:
        return dataset_table_key(self.output_dataset_prefix) if self.output_dataset_prefix else None
