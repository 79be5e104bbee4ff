"""Compute engine: one contract (``ComputeEngine``), a Ray implementation chosen by settings."""

from assay.compute.base import ComputeEngine, EngineJob, EngineStatus, EngineUnavailableError, JobSpec

__all__ = ["ComputeEngine", "EngineJob", "EngineStatus", "EngineUnavailableError", "JobSpec"]
