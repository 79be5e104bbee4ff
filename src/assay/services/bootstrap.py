"""First-start state: the default project and the admin user.

Every replica runs this when it starts, possibly at the same moment as another: a row that
another replica inserted first is kept.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.records import ProjectRecord, UserRecord
from assay.repositories.projects import ProjectRepository
from assay.repositories.users import UserRepository
from assay.security.passwords import hash_password

log = logging.getLogger(__name__)


def ensure_defaults(session: Session, settings: Settings) -> None:
    """The default project and the admin; the admin gets ``ASSAY_ADMIN_PASSWORD`` if it has no
    password yet (a password changed later is not reset by a restart)."""
    try:
        _ensure(session, settings)
    except IntegrityError:
        session.rollback()
        _ensure(session, settings)
    admin = UserRepository(session).get_by_username(settings.admin_username)
    if settings.auth_required and admin is not None and admin.password_hash is None:
        log.warning(
            "credentials are required but the admin %r has no password: set ASSAY_ADMIN_PASSWORD "
            "or run `assay users set-password %s`",
            settings.admin_username,
            settings.admin_username,
        )


def _ensure(session: Session, settings: Settings) -> None:
    projects = ProjectRepository(session)
    if projects.get(settings.default_project) is None:
        projects.add(
            ProjectRecord(id=settings.default_project, name="Default", description="Created on first start")
        )
    users = UserRepository(session)
    admin = users.get_by_username(settings.admin_username)
    if admin is None:
        admin = users.add(
            UserRecord(
                username=settings.admin_username, is_admin=True, default_project_id=settings.default_project
            )
        )
    if settings.admin_password is not None and admin.password_hash is None:
        admin.password_hash = hash_password(settings.admin_password.get_secret_value())
    session.commit()
