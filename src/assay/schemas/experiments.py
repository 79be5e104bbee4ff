"""Experiments and workflows: Lumigator's shapes, plus native detail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field, JsonValue, PositiveInt

from assay.datasets.columns import PREDICTIONS
from assay.schemas.jobs import GenerationConfig, JudgeConfig
from assay.tasks import SummarizationTask, TaskDefinition


class ExperimentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    dataset: uuid.UUID
    max_samples: int = Field(-1, ge=-1)
    task_definition: TaskDefinition = Field(default_factory=SummarizationTask)


class WorkflowCreateRequest(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    experiment_id: str | None = None
    model: str = Field(min_length=1, max_length=512)
    provider: str = Field(min_length=1, max_length=64)
    secret_key_name: str | None = None
    batch_size: PositiveInt = 1
    base_url: str | None = Field(None, max_length=2048)
    system_prompt: str = Field("", max_length=100_000)
    inference_output_field: str = PREDICTIONS
    config_template: str | None = None
    generation_config: GenerationConfig = Field(default_factory=GenerationConfig)
    provider_options: dict[str, JsonValue] | None = Field(
        None,
        description="Assay: the provider's own options (e.g. timeout_s), checked by the provider "
        "when the workflow is created and passed to its inference job",
    )
    job_timeout_sec: PositiveInt = 60 * 60
    metrics: list[str] | None = None
    llm_as_judge: JudgeConfig | None = None


class JobResults(BaseModel):
    id: uuid.UUID
    metrics: list[dict[str, Any]] | None = None
    parameters: list[dict[str, Any]] | None = None
    metric_url: str
    artifact_url: str


class WorkflowResponse(BaseModel):
    """Lumigator's workflow: ``status`` is one of created, running, failed, succeeded."""

    id: str
    experiment_id: str
    model: str
    name: str
    description: str
    system_prompt: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class WorkflowDetailsResponse(WorkflowResponse):
    jobs: list[JobResults] | None = None
    metrics: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    artifacts_download_url: str | None = None


class WorkflowDetail(WorkflowDetailsResponse):
    """Native shape: the precise state machine status and why a workflow stopped."""

    state: str
    status_reason: str | None
    warnings: list[str] = Field(
        default_factory=list,
        description="on a succeeded workflow: scores that failed on some examples, and why",
    )
    failed_step: str | None
    provider: str
    base_url: str | None
    provider_options: dict[str, Any] | None = Field(
        None, description="the provider's own options, as the workflow was created with them"
    )
    inference_job_id: uuid.UUID | None
    evaluation_job_id: uuid.UUID | None


class GetExperimentResponse(BaseModel):
    id: str
    name: str
    description: str
    created_at: dt.datetime
    max_samples: int = -1
    task_definition: TaskDefinition
    dataset: uuid.UUID
    updated_at: dt.datetime | None = None
    workflows: list[WorkflowDetailsResponse] | None = None


class ComparedWorkflow(BaseModel):
    """One workflow in a comparison: each score's mean with its bootstrap 95% CI, the scores
    that failed on some examples and why, and usage (latency, tokens, cost)."""

    workflow_id: str
    name: str
    model: str
    provider: str
    status: str
    status_reason: str | None = None
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict, description="mean, ci_low, ci_high")
    failures: dict[str, dict[str, Any]] = Field(default_factory=dict)
    usage: dict[str, dict[str, float]] = Field(default_factory=dict, description="mean, p50, p95, total")
    scores_key: str | None = None


class ComparisonResponse(BaseModel):
    """``best`` names, per score, the workflow strictly better than every other one; scores
    where several share the best mean are in ``ties`` instead."""

    experiment_id: str
    experiment_name: str
    task: str
    best: dict[str, str]
    ties: dict[str, list[str]]
    warnings: list[str]
    workflows: list[ComparedWorkflow]
