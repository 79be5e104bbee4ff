"""Service requests and responses (``POST/GET /projects/{project}/services``)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    RootModel,
    Tag,
    ValidationInfo,
    field_validator,
)

# A DNS label: the name is part of the engine's name and of the gateway's path.
SERVICE_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class _ServiceCreate(BaseModel):
    """What every kind takes: its name, and the resources of each replica."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SERVICE_NAME, description="DNS label, unique in the project")
    replicas: int = Field(1, ge=1, le=1)
    num_cpus: float = Field(1.0, gt=0, le=64)
    num_gpus: float = Field(0.0, ge=0, le=16)


class AppServiceCreate(_ServiceCreate):
    """Kind ``app``: any command that serves HTTP on ``$HOST:$PORT`` (both given to it).

    Not yet offered, and refused rather than ignored: pip ``requirements`` and ``secrets``
    (only an empty list is accepted) and more than one replica."""

    kind: Literal["app"] = "app"
    command: list[str] = Field(
        min_length=1, max_length=256, description="Argument vector, never a shell line"
    )
    requirements: list[str] = Field(default_factory=list, max_length=0)
    env: dict[str, str] = Field(default_factory=dict, max_length=128)
    secrets: list[str] = Field(default_factory=list, max_length=0)
    health_path: str = Field("/", pattern=r"^/[^\s#]*$", max_length=1024)

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        """Variable names only, and none of the server's own ``ASSAY_*`` namespace (the
        entrypoint drops those: accepting them would silently lose them)."""
        for name in env:
            if re.fullmatch(ENV_NAME, name) is None or name.upper().startswith("ASSAY_"):
                raise ValueError(f"{name!r} is not a variable name a service may set")
        return env


class ModelServiceCreate(_ServiceCreate):
    """Kind ``model``: one model behind an OpenAI-compatible API (``/v1/models``,
    ``/v1/chat/completions``, ``/v1/completions``), known to its clients by ``model`` as given.

    ``options`` and ``generation`` are the provider's own (``hf``: ``dtype``, ``gguf_file``,
    ``trust_remote_code``...; ``max_new_tokens``, ``temperature``...), checked by the provider
    when the service is created; ``generation`` holds the defaults of requests that set none."""

    kind: Literal["model"]
    provider: Literal["hf"] = Field("hf", description="Local Hugging Face transformers models")
    model: str = Field(
        min_length=1,
        max_length=1024,
        description="package:NAME (a model shipped in an installed package), a local path or a hub id",
    )
    engine: Literal["auto", "transformers", "vllm"] = Field(
        "auto", description="auto: vLLM where the node has a GPU and vLLM, else transformers"
    )
    options: dict[str, JsonValue] = Field(default_factory=dict, description="the provider's options")
    generation: dict[str, JsonValue] = Field(default_factory=dict, description="default generation settings")

    @field_validator("engine")
    @classmethod
    def _engine_fits(cls, engine: str, info: ValidationInfo) -> str:
        if engine == "vllm" and info.data.get("num_gpus", 0) < 1:
            raise ValueError("engine 'vllm' needs num_gpus of at least 1")
        return engine


def _kind(body: Any) -> str | None:
    """A body without ``kind`` is an app (the kind first offered)."""
    kind = body.get("kind", "app") if isinstance(body, dict) else getattr(body, "kind", None)
    return kind if isinstance(kind, str) else None


class ServiceCreate(
    RootModel[
        Annotated[
            Annotated[AppServiceCreate, Tag("app")] | Annotated[ModelServiceCreate, Tag("model")],
            Discriminator(
                _kind, custom_error_type="invalid_kind", custom_error_message="kind must be 'app' or 'model'"
            ),
        ]
    ]
):
    """The body of ``POST …/services``: one of the kinds, by ``kind``."""


class ServiceResponse(BaseModel):
    id: uuid.UUID
    project_id: str
    name: str
    kind: str
    desired: str
    status: str
    status_reason: str | None
    restarts: int
    generation: int
    engine_name: str
    config: dict[str, object]
    created_at: dt.datetime
    started_at: dt.datetime | None
    updated_at: dt.datetime
    proxy_path: str = Field(description="Where the gateway serves it, under this server's address")


class ServiceStatusResponse(BaseModel):
    status: str
    desired: str
    status_reason: str | None
    restarts: int


class ServiceLogsResponse(BaseModel):
    logs: str
