"""The inference engine: run one model over a dataset and stream its predictions to storage.

Importing this package never imports torch or transformers: providers are loaded by name
when a run needs them (see ``registry``).
"""

from assay.inference.config import (
    GenerationParams,
    HFOptions,
    HTTPOptions,
    InferenceConfig,
    MockOptions,
    QuestionAnsweringTask,
    SummarizationTask,
    TaskDefinition,
    TextGenerationTask,
    TranslationTask,
)
from assay.inference.pricing import ModelPrice
from assay.inference.registry import ProviderSpec, ProviderUnavailableError, provider_names, register_provider
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
    "GenerationParams",
    "HFOptions",
    "HTTPOptions",
    "InferenceConfig",
    "InferenceError",
    "InferenceStopped",
    "InferenceSummary",
    "LatencyStats",
    "MockOptions",
    "ModelPrice",
    "Progress",
    "ProgressCallback",
    "ProviderSpec",
    "ProviderUnavailableError",
    "QuestionAnsweringTask",
    "SummarizationTask",
    "TaskDefinition",
    "TextGenerationTask",
    "TranslationTask",
    "predictions_schema",
    "provider_names",
    "register_provider",
    "run_inference",
    "run_inference_async",
]
