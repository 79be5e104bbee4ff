from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class ServiceStatus(enum.StrEnum):
    """What the reconciler last saw: ``created`` until first submitted, ``starting`` until the
    health check passes, ``stopping`` until the engine has stopped it."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class DesiredState(enum.StrEnum):
    """What the project asked for; the reconciler makes the engine match it."""

    RUNNING = "running"
    STOPPED = "stopped"
    DELETED = "deleted"


class ServiceRecord(Base):
    """A long-running process of a project behind the gateway. ``generation`` counts its
    starts: each start is a fresh engine submission ``{id}-{generation}``, so a restart never
    reuses (or races with) the previous process, and a repeated submit after an API restart is
    the same submission, never a second instance."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    engine_name: Mapped[str] = mapped_column(String(128))
    ray_address: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    desired: Mapped[str] = mapped_column(String(16), default=DesiredState.RUNNING, index=True)
    status: Mapped[str] = mapped_column(String(16), default=ServiceStatus.CREATED, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    # Where the running generation listens (a private address of the cluster), once known.
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A crashed service is submitted again only after this moment (backoff).
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def submission_id(self) -> str:
        return f"{self.id}-{self.generation}"
