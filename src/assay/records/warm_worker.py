from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class WarmWorkerRecord(Base):
    """A long-lived engine job that runs built-in jobs in warm processes (``assay.jobs.pool``).

    Its id is its engine submission id; its token (a SHA-256 hash here) lets it take work at the
    job API and nothing else: each job it takes still claims its own credential. ``seen_at`` is
    its last call: a worker silent for long is gone, and so are the jobs it had."""

    __tablename__ = "warm_workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
