from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    CREATED = "created"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED)


class JobKind(enum.StrEnum):
    INFERENCE = "inference"
    ANNOTATE = "annotate"
    EVALUATION = "evaluator"
    SCRIPT = "script"


class JobRecord(Base):
    """One run on the compute engine. SQL holds its state; the reconciler moves it forward."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.CREATED, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_key: Mapped[str] = mapped_column(String(512))
    results_prefix: Mapped[str] = mapped_column(String(512))
    logs_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    output_prefix: Mapped[str | None] = mapped_column(String(512), nullable=True)
    engine_name: Mapped[str] = mapped_column(String(128))
    # The cluster the job was sent to (None: the server's default), kept so that a later
    # change of the project's binding never orphans it: it is polled and stopped where it runs.
    ray_address: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True
    )
    output_dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True
    )
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a warm worker runs the job instead of an engine job of its own (``warm_pool``):
    # the worker that took it, when it last said the job runs, and how it ended.
    runner: Mapped[str | None] = mapped_column(String(16), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    worker_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worker_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
