"""Bodies of the internal job API (``/api/v1/job``), spoken by job entrypoints only."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class JobClaim(BaseModel):
    token: str = Field(description="session token of the job; send it as 'Authorization: Bearer'")
    job_id: uuid.UUID
    config_key: str
    env_names: list[str] = Field(description="variables of the job's environment that its commands may get")


class JobApiKey(BaseModel):
    name: str
    value: str


class JobObject(BaseModel):
    key: str
    size: int


class JobObjectList(BaseModel):
    items: list[JobObject]


class JobObjectsDeleted(BaseModel):
    deleted: int
