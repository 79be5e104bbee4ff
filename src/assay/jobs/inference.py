"""The inference and annotation job: one model over one dataset (``assay.inference``)."""

from __future__ import annotations

import logging

from pydantic import TypeAdapter

from assay.inference.config import InferenceConfig, ModelChoice
from assay.inference.resolve import resolve_model
from assay.inference.runner import Progress, run_inference
from assay.jobs.document import JobDocument
from assay.schemas.jobs import JobAnnotateConfig, JobInferenceConfig
from assay.storage import ObjectStore, layout

log = logging.getLogger(__name__)
CONFIGS: TypeAdapter[JobInferenceConfig | JobAnnotateConfig] = TypeAdapter(
    JobInferenceConfig | JobAnnotateConfig
)


def build_config(document: JobDocument) -> InferenceConfig:
    """The engine's config: the model the API resolved, over the document's dataset and task
    (a document written before models were resolved at the API is resolved here)."""
    job = CONFIGS.validate_python(document.config)
    model = (
        ModelChoice.model_validate(document.model)
        if document.model is not None
        else resolve_model(
            provider=job.provider,
            model=job.model,
            base_url=job.base_url,
            secret_key_name=job.secret_key_name,
            generation=job.generation_config.model_dump(exclude_unset=True),
            options=job.provider_options,
            max_concurrency=job.max_concurrency,
            batch_size=document.batch_size,
        )
    )
    assert document.input_parquet_key is not None and document.output_parquet_key is not None
    return InferenceConfig.model_validate(
        {
            **model.model_dump(),
            "dataset_key": document.input_parquet_key,
            "predictions_key": document.output_parquet_key,
            "checkpoint_prefix": layout.checkpoint_prefix(document.results_prefix),
            "cache_prefix": layout.inference_cache_prefix(document.project_id),
            "task": job.task_definition.model_dump(),
            "system_prompt": job.system_prompt,
            "max_samples": document.max_samples if document.max_samples > 0 else None,
            "annotate": isinstance(job, JobAnnotateConfig),
        }
    )


def _report(progress: Progress) -> None:
    log.info(
        "%d/%d examples done (%d failed, %d from cache)",
        progress.done,
        progress.total,
        progress.failed,
        progress.from_cache,
    )


def run(document: JobDocument, store: ObjectStore, api_key: str | None) -> dict[str, object]:
    summary = run_inference(build_config(document), store, _report, api_key=api_key)
    return summary.model_dump(mode="json")
