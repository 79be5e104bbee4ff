from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.security.destinations import MAX_ENTRIES, normalize_entry

ALLOWED_HOSTS_DOC = (
    "Hosts (``api.example.com``, ``10.0.0.5:8000``) or base URLs (``https://gw.example.com/v1``) "
    "the value may be sent to, or ``*`` (anywhere: needed to hand it to a service's code); empty: "
    "only the provider's own host (openai: api.openai.com...)"
)


class SecretUploadRequest(BaseModel):
    value: str = Field(..., min_length=1, max_length=1024)
    description: str
    allowed_hosts: list[str] | None = Field(
        None,
        max_length=MAX_ENTRIES,
        description=f"{ALLOWED_HOSTS_DOC}. Left out when replacing a secret: the list stays.",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if any(len(entry) > 2048 for entry in value):
            raise ValueError("an entry has at most 2048 characters")
        return sorted({normalize_entry(entry) for entry in value})


class SecretGetRequest(BaseModel):
    """Lumigator names the listing item ``SecretGetRequest``; it never carries the value.
    Exactly Lumigator's fields: its SDK refuses any other."""

    model_config = ConfigDict(from_attributes=True)

    name: str = Field(..., min_length=1, max_length=255)
    description: str


class SecretDetail(SecretGetRequest):
    """The native listing item: also where the value may be sent."""

    allowed_hosts: list[str] = Field(default_factory=list, description=ALLOWED_HOSTS_DOC)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _none_is_empty(cls, value: list[str] | None) -> list[str]:
        return value or []
