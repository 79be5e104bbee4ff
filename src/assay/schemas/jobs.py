"""Job requests and responses: Lumigator's shapes (``JobCreate``, ``Job``), plus script jobs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PositiveInt

from assay.datasets.columns import GROUND_TRUTH, PREDICTIONS
from assay.tasks import SummarizationTask, TaskDefinition


class GenerationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = Field(1024, ge=1, le=131072)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    temperature: float = Field(0.5, ge=0.0, le=2.0)
    top_p: float = Field(0.5, gt=0.0, le=1.0)


class JobInferenceConfig(BaseModel):
    job_type: Literal["inference"] = "inference"
    secret_key_name: str | None = Field(None, description="Secret holding the provider's API key")
    model: str = Field(min_length=1, max_length=512)
    provider: str = Field(min_length=1, max_length=64)
    task_definition: TaskDefinition = Field(default_factory=SummarizationTask)
    accelerator: str | None = "auto"
    revision: str | None = "main"
    use_fast: bool = True
    trust_remote_code: bool = False
    torch_dtype: str = "auto"
    base_url: str | None = Field(None, max_length=2048)
    output_field: str | None = PREDICTIONS
    generation_config: GenerationConfig = Field(default_factory=GenerationConfig)
    store_to_dataset: bool = False
    system_prompt: str | None = Field(None, max_length=100_000)
    max_concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight (HTTP providers)")
    provider_options: dict[str, JsonValue] | None = Field(
        None, description="Assay: the provider's own options, checked by the provider (e.g. timeout_s)"
    )


class JobAnnotateConfig(JobInferenceConfig):
    """Inference whose output becomes the dataset's ``ground_truth``."""

    job_type: Literal["annotate"] = "annotate"  # type: ignore[assignment]
    model: str = "facebook/bart-large-cnn"
    provider: str = "hf"
    output_field: str | None = GROUND_TRUTH
    store_to_dataset: bool = True


# The judge talks to ``model_base_url`` as an OpenAI-compatible server.
JUDGE_PROVIDER = "openai-compatible"


class JudgeConfig(BaseModel):
    model_name: str = Field(min_length=1)
    model_base_url: str = Field(min_length=1)


class JobEvalConfig(BaseModel):
    job_type: Literal["evaluator"] = "evaluator"
    secret_key_name: str | None = None
    task_definition: TaskDefinition = Field(default_factory=SummarizationTask)
    metrics: list[str] | None = Field(None, description="Metric names; default: the task's defaults")
    llm_as_judge: JudgeConfig | None = None


class ScriptJobConfig(BaseModel):
    """Any command on the cluster: an argument vector, never a shell string."""

    job_type: Literal["script"] = "script"
    argv: list[str] = Field(min_length=1, max_length=256)
    env: dict[str, str] = Field(default_factory=dict)
    pip: list[str] = Field(default_factory=list)
    num_cpus: float = Field(1.0, gt=0, le=64)


JobConfig = Annotated[
    JobInferenceConfig | JobAnnotateConfig | JobEvalConfig | ScriptJobConfig, Field(discriminator="job_type")
]


class JobCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    dataset: uuid.UUID | None = None
    max_samples: int = Field(-1, ge=-1)
    batch_size: PositiveInt = 1
    job_config: JobConfig


class JobResponse(BaseModel):
    """Lumigator's ``Job``: its own fields plus the Ray submission fields, all from SQL."""

    id: uuid.UUID
    name: str
    description: str
    status: str
    job_type: str
    created_at: dt.datetime
    experiment_id: uuid.UUID | None = None
    updated_at: dt.datetime | None = None
    type: str = "SUBMISSION"
    submission_id: str | None = None
    driver_info: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    runtime_env: dict[str, Any] = Field(default_factory=dict)
    driver_agent_http_address: str | None = None
    driver_node_id: str | None = None
    driver_exit_code: int | None = None


class JobDetail(JobResponse):
    project_id: str
    dataset_id: uuid.UUID | None
    output_dataset_id: uuid.UUID | None
    summary: dict[str, Any] | None


class JobLogsResponse(BaseModel):
    logs: str | None = None


class JobResultResponse(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID


class JobResultDownloadResponse(BaseModel):
    id: uuid.UUID
    download_url: str
