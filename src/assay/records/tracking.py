from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    REJECTED = "rejected"


class TrackingOutboxRecord(Base):
    """A tracking operation that SQL has committed to and the tracking server has not yet seen.

    Enqueued in the transaction of the state change it mirrors, deleted once the tracker has
    applied it. Operations of one ``stream`` (the Assay key of their experiment) are applied in
    ``id`` order. A row the tracker refused for good stays ``rejected`` for an operator to read.
    """

    __tablename__ = "tracking_outbox"
    __table_args__ = (Index("ix_tracking_outbox_state_stream_id", "state", "stream", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackingLinkRecord(Base):
    """Which tracking-server id an Assay key (experiment or run) got, so that later operations
    address it without searching, and a replay of its creation finds it."""

    __tablename__ = "tracking_links"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    stream: Mapped[str] = mapped_column(String(255), index=True)
    tracking_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
