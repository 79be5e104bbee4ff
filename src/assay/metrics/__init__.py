"""Evaluation metrics: a registry of named metrics that match their reference libraries.

Importing this package loads no metric library; each metric's module (and its dependencies,
such as torch for BERTScore) is imported when the metric is first used.
"""

from assay.metrics.base import Metric, ReferenceMetric
from assay.metrics.registry import (
    METRICS,
    MetricSpec,
    available_metrics,
    compute_metrics,
    default_metrics,
    get_metric,
    references_needed,
    require_available,
    validate_metric_names,
)
from assay.metrics.types import Aggregate, MetricResult, PairScores

__all__ = [
    "METRICS",
    "Aggregate",
    "Metric",
    "MetricResult",
    "MetricSpec",
    "PairScores",
    "ReferenceMetric",
    "available_metrics",
    "compute_metrics",
    "default_metrics",
    "get_metric",
    "references_needed",
    "require_available",
    "validate_metric_names",
]
