"""Who is calling. Embedded mode has one local admin; login arrives with the auth issue."""

from __future__ import annotations

from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.records import UserRecord
from assay.repositories.projects import UserRepository


class LocalUserResolver:
    def __init__(self, session: Session, admin_username: str) -> None:
        self.users = UserRepository(session)
        self.admin_username = admin_username

    def current(self) -> UserRecord:
        user = self.users.get_by_username(self.admin_username)
        if user is None:
            raise NotFoundError("the local admin user is missing; run `assay db upgrade`")
        return user
