"""Bodies of the internal job API (``/api/v1/job``), spoken by job entrypoints only."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field


class JobClaim(BaseModel):
    token: str = Field(description="session token of the job; send it as 'Authorization: Bearer'")
    job_id: uuid.UUID
    config_key: str
    env_names: list[str] = Field(description="variables of the job's environment that its commands may get")


class JobApiKey(BaseModel):
    name: str
    value: str


class ServiceSecretValues(BaseModel):
    env: dict[str, str] = Field(description="the service's secrets, by the variable name it gives each")
    model_url: str | None = Field(
        None, description="a short-lived signed link to the pinned model file of a model service (file:...)"
    )


class JobObject(BaseModel):
    key: str
    size: int


class JobObjectList(BaseModel):
    items: list[JobObject]


class JobObjectsDeleted(BaseModel):
    deleted: int


class WorkerTake(BaseModel):
    job_id: uuid.UUID
    claim_token: str = Field(description="the job's own claim token, for the process that runs it")
    config_key: str


class WorkerBeat(BaseModel):
    job_ids: list[uuid.UUID] = Field(max_length=1024, description="the jobs the worker runs now")


class WorkerStops(BaseModel):
    stop: list[uuid.UUID] = Field(description="jobs the worker must stop")


class WorkerFinished(BaseModel):
    job_id: uuid.UUID
    status: Literal["succeeded", "failed", "stopped"]
    message: str = Field(default="", max_length=4000)
    output: str = Field(default="", max_length=64 * 1024 * 1024, description="what the job printed")
