"""First-start state: the default project and the local admin user of embedded mode."""

from __future__ import annotations

from sqlalchemy.orm import Session

from assay.config import Settings
from assay.records import ProjectRecord, UserRecord
from assay.repositories.projects import ProjectRepository, UserRepository


def ensure_defaults(session: Session, settings: Settings) -> None:
    projects = ProjectRepository(session)
    if projects.get(settings.default_project) is None:
        projects.add(
            ProjectRecord(id=settings.default_project, name="Default", description="Created on first start")
        )
    users = UserRepository(session)
    if users.get_by_username(settings.admin_username) is None:
        users.add(
            UserRecord(
                username=settings.admin_username, is_admin=True, default_project_id=settings.default_project
            )
        )
    session.commit()
