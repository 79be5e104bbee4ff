from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class ServiceCredentialRecord(Base):
    """A claim token (its SHA-256) that one engine job of a service's replica
    (``submission_id``) trades, once, for the secrets the service names. Good only while that
    job is still a replica's current one: a crash, a restart or a stop moves the replica on.
    A submission repeated after a lost answer gets a row of its own, so neither claim is
    spoiled by the other."""

    __tablename__ = "service_credentials"

    claim_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
