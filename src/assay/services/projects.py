"""Which project a request acts on. Membership and roles will be checked here, once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.records import ProjectRecord, UserRecord
from assay.repositories.projects import ProjectRepository


class ProjectAccess:
    def __init__(self, session: Session, default_project: str) -> None:
        self.projects = ProjectRepository(session)
        self.default_project = default_project

    def resolve(self, user: UserRecord, requested: str | None) -> ProjectRecord:
        """The project named in the path or header, else the caller's default project."""
        project_id = requested or user.default_project_id or self.default_project
        project = self.projects.get(project_id)
        if project is None:
            raise NotFoundError(f"project {project_id!r} not found", field="project")
        return project
