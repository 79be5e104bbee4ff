from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, select

from assay.records import FileRecord
from assay.repositories.base import Repository


class FileRepository(Repository[FileRecord]):
    record = FileRecord

    def _named(self, project_id: str, folder: str, name: str) -> list[ColumnElement[bool]]:
        return [FileRecord.project_id == project_id, FileRecord.folder == folder, FileRecord.name == name]

    def get(self, project_id: str, folder: str, name: str, version: int | None) -> FileRecord | None:
        """The given version, or the newest one when ``version`` is None."""
        query = select(FileRecord).where(*self._named(project_id, folder, name))
        if version is not None:
            query = query.where(FileRecord.version == version)
        return self.session.scalars(query.order_by(FileRecord.version.desc()).limit(1)).first()

    def versions(self, project_id: str, folder: str, name: str) -> Sequence[FileRecord]:
        """Every version, newest first."""
        query = select(FileRecord).where(*self._named(project_id, folder, name))
        return self.session.scalars(query.order_by(FileRecord.version.desc())).all()

    def next_version(self, project_id: str, folder: str, name: str) -> int:
        query = select(func.max(FileRecord.version)).where(*self._named(project_id, folder, name))
        return int(self.session.scalar(query) or 0) + 1

    def list_page(
        self, project_id: str, folder: str | None, all_versions: bool, skip: int, limit: int
    ) -> tuple[Sequence[FileRecord], int]:
        """Files by folder and name; only the newest version of each unless ``all_versions``."""
        scope: list[ColumnElement[bool]] = [FileRecord.project_id == project_id]
        if folder is not None:
            scope.append(FileRecord.folder == folder)
        query = select(FileRecord).where(*scope)
        if not all_versions:
            newest = (
                select(FileRecord.folder, FileRecord.name, func.max(FileRecord.version).label("version"))
                .where(*scope)
                .group_by(FileRecord.folder, FileRecord.name)
                .subquery()
            )
            query = query.join(
                newest,
                and_(
                    FileRecord.folder == newest.c.folder,
                    FileRecord.name == newest.c.name,
                    FileRecord.version == newest.c.version,
                ),
            )
        ordered = query.order_by(FileRecord.folder, FileRecord.name, FileRecord.version.desc())
        return self.page(ordered, skip, limit)
