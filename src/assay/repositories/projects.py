from __future__ import annotations

from assay.records import ProjectRecord, UserRecord
from assay.repositories.base import Repository


class ProjectRepository(Repository[ProjectRecord]):
    record = ProjectRecord

    def get(self, project_id: str) -> ProjectRecord | None:
        return self.session.get(ProjectRecord, project_id)


class UserRepository(Repository[UserRecord]):
    record = UserRecord

    def get_by_username(self, username: str) -> UserRecord | None:
        return self.session.query(UserRecord).filter_by(username=username).one_or_none()
