from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assay.records.base import Base, UTCDateTime, utcnow


class ObjectCleanupRecord(Base):
    """An object-store prefix that must be deleted once ``not_before`` has passed.

    Written in the same transaction that stops SQL from pointing at the prefix (or before
    objects are written, as a lease that a successful upload removes), so that a crash or a
    storage outage never leaves objects nobody will delete.
    """

    __tablename__ = "object_cleanups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(512), index=True)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
