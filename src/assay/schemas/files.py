from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict

from assay.enums import FileFolder


class FileVersionResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: str
    folder: FileFolder
    name: str
    version: int
    size: int
    sha256: str
    content_type: str
    uploaded_by: str | None
    created_at: dt.datetime


class FileDeleteResponse(BaseModel):
    deleted_versions: list[int]
