from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assay.records.base import Base, UTCDateTime, utcnow
from assay.records.user import UserRecord


class FileRecord(Base):
    """One version of a project file. Uploading a name again adds the next version; the
    unique constraint makes two concurrent uploads of a name end with two versions."""

    __tablename__ = "files"
    # Its index also serves every lookup by project, by folder and by name.
    __table_args__ = (UniqueConstraint("project_id", "folder", "name", "version", name="uq_files_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("projects.id", ondelete="RESTRICT"))
    folder: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(255))
    object_key: Mapped[str] = mapped_column(String(512))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploader: Mapped[UserRecord | None] = relationship(lazy="joined")

    @property
    def uploaded_by(self) -> str | None:
        return self.uploader.username if self.uploader is not None else None
