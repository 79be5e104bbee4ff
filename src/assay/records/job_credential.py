from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class JobCredentialRecord(Base):
    """The credential of one submitted job, as SHA-256 hashes only.

    The claim token travels in the job's runtime environment, which the engine may show or
    log; the job trades it once for a session token that lives only in its memory, so the
    claim hash is cleared on use. The row goes when the job reaches a final state."""

    __tablename__ = "job_credentials"

    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    claim_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    session_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
