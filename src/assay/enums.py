"""Enumerations that the database records, the HTTP schemas and the Python client all speak.

They live apart from ``assay.records`` so that the schemas (and the client, which parses
responses into them) do not import SQLAlchemy.
"""

from __future__ import annotations

import enum


class FileFolder(enum.StrEnum):
    DATASETS = "datasets"
    MODELS = "models"
    OTHER = "other"


class Role(enum.StrEnum):
    """What a member may do in a project; each role includes the ones below it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class ExportFormat(enum.StrEnum):
    """How an experiment's comparison is exported."""

    HTML = "html"
    CSV = "csv"
    JSON = "json"
