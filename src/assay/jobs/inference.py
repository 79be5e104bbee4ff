"""The inference and annotation job: one model over one dataset (``assay.inference``)."""

from __future__ import annotations

import logging

from pydantic import TypeAdapter

from assay.inference.config import InferenceConfig
from assay.inference.registry import provider_spec
from assay.inference.runner import Progress, run_inference
from assay.jobs.document import JobDocument
from assay.schemas.jobs import JobAnnotateConfig, JobInferenceConfig
from assay.storage import ObjectStore, layout

log = logging.getLogger(__name__)
CONFIGS: TypeAdapter[JobInferenceConfig | JobAnnotateConfig] = TypeAdapter(
    JobInferenceConfig | JobAnnotateConfig
)


def build_config(document: JobDocument) -> InferenceConfig:
    """Translate the API's (Lumigator-shaped) job config into the engine's config.

    For the ``mock`` provider the model name is the reply template (``{prompt}`` echoes)."""
    job = CONFIGS.validate_python(document.config)
    supported = provider_spec(job.provider).params
    generation = {
        key: value
        for key, value in job.generation_config.model_dump(exclude_unset=True).items()
        if key in supported
    }
    assert document.input_parquet_key is not None and document.output_parquet_key is not None
    return InferenceConfig.model_validate(
        {
            "provider": job.provider,
            "model": job.model,
            "base_url": job.base_url,
            "api_key_secret": job.secret_key_name,
            "dataset_key": document.input_parquet_key,
            "predictions_key": document.output_parquet_key,
            "checkpoint_prefix": layout.checkpoint_prefix(document.results_prefix),
            "cache_prefix": layout.inference_cache_prefix(document.project_id),
            "task": job.task_definition.model_dump(),
            "system_prompt": job.system_prompt,
            "generation": generation,
            "max_samples": document.max_samples if document.max_samples > 0 else None,
            "annotate": isinstance(job, JobAnnotateConfig),
            "http": {"concurrency": job.max_concurrency},
            "hf": {"batch_size": document.batch_size},
            "mock": {"reply": job.model} if job.provider == "mock" else {},
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
