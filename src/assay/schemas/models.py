from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field


class ModelRequirement(enum.StrEnum):
    API_KEY = "api_key"
    LLAMAFILE = "llamafile"


class ModelInfo(BaseModel):
    parameter_count: str
    tensor_type: str | None = None
    model_size: str


class ModelsResponse(BaseModel):
    """One catalog entry, in Lumigator's shape."""

    display_name: str
    model: str
    provider: str
    base_url: str | None = None
    website_url: str
    description: str
    requirements: list[ModelRequirement] = Field(default_factory=list)
    info: ModelInfo | None = None
    tasks: list[dict[str, dict[str, Any]]]
