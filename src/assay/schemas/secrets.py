from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SecretUploadRequest(BaseModel):
    value: str = Field(..., min_length=1, max_length=1024)
    description: str


class SecretGetRequest(BaseModel):
    """Lumigator names the listing item ``SecretGetRequest``; it never carries the value."""

    model_config = ConfigDict(from_attributes=True)

    name: str = Field(..., min_length=1, max_length=255)
    description: str
