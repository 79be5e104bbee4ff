from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DatasetFormat(enum.StrEnum):
    JOB = "job"


class DatasetResponse(BaseModel):
    """Lumigator's dataset shape, field for field."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    format: DatasetFormat
    size: int
    ground_truth: bool
    run_id: uuid.UUID | None
    generated: bool | None
    generated_by: str | None
    created_at: dt.datetime


class DatasetColumn(BaseModel):
    name: str
    type: str


class DatasetDetail(DatasetResponse):
    """The native shape: Lumigator's fields plus what Assay knows about the table."""

    project_id: str
    source_format: str
    row_count: int
    columns: list[DatasetColumn]
    parquet_size: int
    sha256: str | None = Field(
        default=None,
        description="SHA-256 of the bytes as uploaded (none for datasets that jobs generate)",
    )


class DatasetOptions(BaseModel):
    """Form fields that may accompany an upload (Lumigator's names)."""

    model_config = ConfigDict(extra="ignore")

    format: DatasetFormat = DatasetFormat.JOB
    run_id: uuid.UUID | None = None
    generated: bool = False
    generated_by: str | None = Field(default=None, max_length=255)


class DatasetDownloadResponse(BaseModel):
    id: uuid.UUID
    download_urls: list[str]


class DatasetRows(BaseModel):
    """A page of rows, as JSON objects keyed by column name."""

    total: int
    offset: int
    limit: int
    columns: list[str]
    rows: list[dict[str, Any]]
