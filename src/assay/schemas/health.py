from __future__ import annotations

from pydantic import BaseModel


class ComponentHealth(BaseModel):
    status: str
    detail: str | None = None


class HealthResponse(BaseModel):
    """Lumigator's ``status`` and ``deployment_type``, plus one check per component."""

    status: str
    deployment_type: str
    checks: dict[str, ComponentHealth]
