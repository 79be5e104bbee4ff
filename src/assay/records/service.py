from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assay.records.base import Base, UTCDateTime, utcnow


class ServiceStatus(enum.StrEnum):
    """What the reconciler last saw, of a replica and of the service as a whole: ``created``
    until first submitted, ``starting`` until the health check passes, ``stopping`` until the
    engine has stopped it. A service is ``running`` while at least one replica is."""

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
    """A long-running service of a project behind the gateway: what was asked (``config``,
    ``desired``) and a summary of its replicas (``status``, ``restarts``), each of which is a
    row of ``service_replicas``. ``generation`` counts the starts asked through the API: a
    replica of an older generation is stopped and started afresh."""

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
    # Crashes of its replicas since they last ran steadily (each replica's own count, summed).
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    replica_rows: Mapped[list[ServiceReplicaRecord]] = relationship(
        order_by="ServiceReplicaRecord.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    @property
    def replicas(self) -> int:
        return int(self.config.get("replicas", 1))

    @property
    def ready_replicas(self) -> int:
        return sum(1 for replica in self.replica_rows if replica.status == ServiceStatus.RUNNING)


class ServiceReplicaRecord(Base):
    """One copy of a service: its own engine job, address and health, restarted alone when it
    crashes. ``submission_id`` (``{service}-{generation}-{index}-{attempt}``) is written before
    the engine is asked, so a submit repeated after an API restart is the same engine job."""

    __tablename__ = "service_replicas"

    service_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The service's generation this replica runs; an older one is stopped and started afresh.
    generation: Mapped[int] = mapped_column(Integer)
    # Submissions of this replica in its generation: each restart is a fresh engine job.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    submission_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=ServiceStatus.CREATED)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Crashes in a row (a run that stays healthy for a while clears them).
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    # Where it listens (a private address of the cluster), once announced.
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A crashed replica is submitted again only after this moment (backoff).
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Running (healthy) since.
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last periodic health check of a running replica, and the failures in a row since one passed.
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    health_failures: Mapped[int] = mapped_column(Integer, default=0)

    def begin(self, generation: int) -> None:
        """Start over as a replica of ``generation``: not yet submitted, no crash counted. One
        that already ran in that generation (stopped by a scale-down, then wanted again) takes
        its next attempt: an engine job's id is never used twice."""
        self.assign(generation, self.attempt + 1 if self.generation == generation else 0)
        self.status = ServiceStatus.CREATED
        self.status_reason = None
        self.restarts = 0
        self.address = None
        self.retry_at = None
        self.started_at = None
        self.checked_at = None
        self.health_failures = 0

    def assign(self, generation: int, attempt: int) -> None:
        """Name this replica's next engine job, before the engine is asked for it."""
        self.generation, self.attempt = generation, attempt
        self.submission_id = f"{self.service_id}-{generation}-{self.index}-{attempt}"
