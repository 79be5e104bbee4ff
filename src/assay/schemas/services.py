"""Service requests and responses (``POST/GET /projects/{project}/services``)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A DNS label: the name is part of the engine's name and of the gateway's path.
SERVICE_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# Each replica is an engine job of its own, checked by the reconciler on every pass.
MAX_REPLICAS = 16


class AppServiceCreate(BaseModel):
    """Kind ``app``: any command that serves HTTP on ``$HOST:$PORT`` (both given to it).

    Not yet offered, and refused rather than ignored: pip ``requirements`` and ``secrets``
    (only an empty list is accepted), and kind ``model``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SERVICE_NAME, description="DNS label, unique in the project")
    kind: Literal["app"] = "app"
    command: list[str] = Field(
        min_length=1, max_length=256, description="Argument vector, never a shell line"
    )
    requirements: list[str] = Field(default_factory=list, max_length=0)
    env: dict[str, str] = Field(default_factory=dict, max_length=128)
    secrets: list[str] = Field(default_factory=list, max_length=0)
    health_path: str = Field("/", pattern=r"^/[^\s#]*$", max_length=1024)
    replicas: int = Field(
        1, ge=1, le=MAX_REPLICAS, description="Copies of the process; the gateway spreads requests over them"
    )
    num_cpus: float = Field(1.0, gt=0, le=64, description="CPUs of each replica")
    num_gpus: float = Field(0.0, ge=0, le=16, description="GPUs of each replica")

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        """Variable names only, and none of the server's own ``ASSAY_*`` namespace (the
        entrypoint drops those: accepting them would silently lose them)."""
        for name in env:
            if re.fullmatch(ENV_NAME, name) is None or name.upper().startswith("ASSAY_"):
                raise ValueError(f"{name!r} is not a variable name a service may set")
        return env


ASKED = "Replicas asked for"
READY = "Replicas running and passing their health checks; the service is running while one is"


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
