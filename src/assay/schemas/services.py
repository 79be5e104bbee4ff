"""Service requests and responses (``POST/GET /projects/{project}/services``)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    RootModel,
    Tag,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

# A DNS label: the name is part of the engine's name and of the gateway's path.
SERVICE_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# Set by the entrypoint for the command (``assay.jobs.serve``): a service's own value would be lost.
ENTRYPOINT_NAMES = frozenset({"HOST", "PORT"})


def variable_name(name: str) -> str:
    """A variable name, none of the server's own ``ASSAY_*`` namespace (the entrypoint drops
    those) and none the entrypoint sets: accepting them would silently lose them."""
    if (
        re.fullmatch(ENV_NAME, name) is None
        or name.upper().startswith("ASSAY_")
        or name.upper() in ENTRYPOINT_NAMES
    ):
        raise ValueError(f"{name!r} is not a variable name a service may set")
    return name


def requirement(text: str) -> str:
    """A PEP 508 requirement, installed from the node's package index: no pip option
    (``-r /etc/…``), no path, no ``file:`` or VCS URL, so that a requirement cannot make pip
    read a file on the node or fetch from anywhere but over HTTPS."""
    try:
        parsed = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"not a requirement (a package name, extras, a version, markers): {exc}") from None
    if parsed.url is not None and urlsplit(parsed.url).scheme != "https":
        raise ValueError("a direct reference (name @ URL) must be an https:// URL")
    return str(parsed)


# Each replica is an engine job of its own, checked by the reconciler on every pass.
MAX_REPLICAS = 16


REPLICAS_DESCRIPTION = "Copies of the process; the gateway spreads requests over them"


class _ServiceCreate(BaseModel):
    """What every kind takes: its name, and the resources of each replica."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SERVICE_NAME, description="DNS label, unique in the project")
    replicas: int = Field(1, ge=1, le=MAX_REPLICAS, description=REPLICAS_DESCRIPTION)
    num_cpus: float = Field(1.0, gt=0, le=64, description="CPUs of each replica")
    num_gpus: float = Field(0.0, ge=0, le=16, description="GPUs of each replica")


class AppServiceCreate(_ServiceCreate):
    """Kind ``app``: any command that serves HTTP on ``$HOST:$PORT`` (both given to it)."""

    kind: Literal["app"] = "app"
    command: list[str] = Field(
        min_length=1, max_length=256, description="Argument vector, never a shell line"
    )
    requirements: list[Annotated[str, Field(max_length=1024), AfterValidator(requirement)]] = Field(
        default_factory=list,
        max_length=64,
        description="pip requirements (PEP 508) installed for this service only",
    )
    env: dict[str, str] = Field(default_factory=dict, max_length=128)
    secrets: list[Annotated[str, AfterValidator(variable_name)]] = Field(
        default_factory=list,
        max_length=32,
        description="Project secrets, each given to the command as the variable of its name",
    )
    health_path: str = Field("/", pattern=r"^/[^\s#]*$", max_length=1024)

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            variable_name(name)
        return env

    @field_validator("secrets")
    @classmethod
    def _distinct(cls, secrets: list[str], info: ValidationInfo) -> list[str]:
        """Secret names are case-insensitive; a variable is either a secret or in ``env``."""
        env = info.data.get("env", {})
        for index, name in enumerate(secrets):
            if name.lower() in (other.lower() for other in secrets[:index]):
                raise ValueError(f"secrets[{index}]: {name!r} is listed twice")
            if name in env:
                raise ValueError(f"secrets[{index}]: {name!r} is also set in env")
        return secrets


ASKED = "Replicas asked for"
READY = "Replicas running and passing their health checks; the service is running while one is"


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
        description=(
            "package:NAME (a model shipped in an installed package), a local path, a hub id, or "
            "file:FOLDER/NAME[@VERSION]: a project file (a .gguf file, or a .tar, .tar.gz, .tgz or "
            ".zip archive of a model folder) whose version is pinned when the service is created"
        ),
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


KINDS = ("app", "model")
UNKNOWN_KIND = PydanticCustomError("invalid_kind", "kind must be 'app' or 'model'")


def _kind(body: Any) -> str | None:
    """A body without ``kind`` is an app (the kind first offered)."""
    kind = body.get("kind", "app") if isinstance(body, dict) else getattr(body, "kind", None)
    return kind if isinstance(kind, str) else None


class ServiceCreate(
    RootModel[
        Annotated[
            Annotated[AppServiceCreate, Tag("app")] | Annotated[ModelServiceCreate, Tag("model")],
            Discriminator(
                _kind,
                custom_error_type=UNKNOWN_KIND.type,
                custom_error_message=UNKNOWN_KIND.message_template,
            ),
        ]
    ]
):
    """The body of ``POST …/services``: one of the kinds, by ``kind``."""

    @model_validator(mode="wrap")
    @classmethod
    def _located_as_sent(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Errors name the field as the client wrote it (``requirements.1``, ``kind``): pydantic
        puts the union's tag first (``app.requirements.1``), a field no body has."""
        try:
            return handler(data)
        except ValidationError as exc:
            details: list[InitErrorDetails] = []
            for error in exc.errors():
                loc = error["loc"]
                detail = InitErrorDetails(
                    type=UNKNOWN_KIND if error["type"] == UNKNOWN_KIND.type else error["type"],
                    loc=loc[1:] if loc and loc[0] in KINDS else loc or ("kind",),
                    input=error["input"],
                )
                if "ctx" in error:
                    detail["ctx"] = error["ctx"]
                details.append(detail)
            raise ValidationError.from_exception_data(exc.title, details) from None


class ServiceScale(BaseModel):
    """A new number of replicas: the reconciler starts the missing ones, or stops those with
    the highest indexes, and leaves the others running."""

    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(ge=1, le=MAX_REPLICAS, description=REPLICAS_DESCRIPTION)


class ServiceResponse(BaseModel):
    id: uuid.UUID
    project_id: str
    name: str
    kind: str
    desired: str
    status: str
    status_reason: str | None
    restarts: int = Field(description="Crashes of its replicas since they last ran steadily")
    replicas: int = Field(description=ASKED)
    ready_replicas: int = Field(description=READY)
    generation: int
    engine_name: str
    config: dict[str, object]
    created_at: dt.datetime
    started_at: dt.datetime | None
    updated_at: dt.datetime
    proxy_path: str = Field(description="Where the gateway serves it, under this server's address")


class ReplicaStatusResponse(BaseModel):
    index: int
    status: str = Field(description="created, starting, running, stopping, stopped or failed")
    status_reason: str | None
    restarts: int = Field(description="Crashes in a row; past 3 the replica is failed and stays down")
    started_at: dt.datetime | None = Field(description="Running (healthy) since")


class ServiceStatusResponse(BaseModel):
    status: str = Field(
        description="running while at least one replica is; failed when every replica is failed"
    )
    desired: str
    status_reason: str | None
    restarts: int
    replicas: int = Field(description=ASKED)
    ready_replicas: int = Field(description=READY)
    replica_status: list[ReplicaStatusResponse] = Field(description="Each replica, by index")


class ServiceLogsResponse(BaseModel):
    logs: str
