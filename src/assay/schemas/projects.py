from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.enums import Role

NAME_DOC = "3-35 letters, digits, spaces or dashes"


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=3, max_length=35, description=f"{NAME_DOC}; the project id is derived from it, once"
    )
    description: str = Field("", max_length=10_000)


class ProjectUpdate(BaseModel):
    """Renaming changes the display name only: the id (slug) never changes, so the names and
    labels of engine resources, object keys and links that carry it stay correct."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=3, max_length=35, description=NAME_DOC)
    description: str | None = Field(None, max_length=10_000)
    ray_address: str | None = Field(
        None,
        max_length=2048,
        description="administrators only: the Ray dashboard URL (http://head:8265) this project's "
        "new jobs run on; null: the server's cluster. Running jobs stay where they are.",
        examples=["http://ray-head.team-a:8265"],
    )

    @field_validator("ray_address")
    @classmethod
    def _ray_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL of a Ray dashboard, such as http://head:8265")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not carry credentials, a query or a fragment")
        _ = parts.port  # raises ValueError for a port out of range
        return value.strip().rstrip("/")


class ProjectResponse(BaseModel):
    id: str = Field(description="immutable slug, used in paths and engine resource names")
    name: str
    description: str
    created_at: dt.datetime
    role: Role = Field(description="the caller's role (administrators act as owners everywhere)")
    ray_address: str | None = Field(None, description="the project's own Ray cluster; null: the server's")


class MemberPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class MemberResponse(BaseModel):
    username: str
    role: Role
    created_at: dt.datetime


class AuditEventResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: str | None
    actor: str
    action: str
    resource_type: str
    resource_id: str
    details: dict[str, Any]
    created_at: dt.datetime
