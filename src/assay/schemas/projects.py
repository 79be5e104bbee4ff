from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.records import Role

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


class ProjectResponse(BaseModel):
    id: str = Field(description="immutable slug, used in paths and engine resource names")
    name: str
    description: str
    created_at: dt.datetime
    role: Role = Field(description="the caller's role (administrators act as owners everywhere)")


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
