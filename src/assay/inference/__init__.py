"""The inference engine: run one model over a dataset and stream its predictions to storage.

Importing this package never imports torch or transformers: providers are loaded by name
when a run needs them (see ``registry``).
"""

from assay.inference.config import GenerationParams, InferenceConfig, ModelChoice
from assay.inference.pricing import ModelPrice
from assay.inference.providers.base import Generation, JobRequest, Provider, ProviderOptions
from assay.inference.registry import ProviderUnavailableError, provider_names, register_provider
from assay.inference.results import InferenceSummary, LatencyStats, predictions_schema
from assay.inference.runner import (
    InferenceError,
    InferenceStopped,
    Progress,
    ProgressCallback,
    run_inference,
    run_inference_async,
)

__all__ = [
    "Generation",
    "GenerationParams",
    "InferenceConfig",
    "InferenceError",
    "InferenceStopped",
    "InferenceSummary",
    "JobRequest",
    "LatencyStats",
    "ModelChoice",
    "ModelPrice",
    "Progress",
    "ProgressCallback",
    "Provider",
    "ProviderOptions",
    "ProviderUnavailableError",
    "predictions_schema",
    "provider_names",
    "register_provider",
    "run_inference",
    "run_inference_async",
]
