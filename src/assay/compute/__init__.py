"""Compute engine: one contract (``ComputeEngine``), a Ray implementation chosen by settings."""

from assay.compute.base import ComputeEngine, EngineJob, EngineStatus, EngineUnavailableError, JobSpec
from assay.compute.registry import ComputeRegistry

__all__ = [
    "ComputeEngine",
    "ComputeRegistry",
    "EngineJob",
    "EngineStatus",
    "EngineUnavailableError",
    "JobSpec",
]
