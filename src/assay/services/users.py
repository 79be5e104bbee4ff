"""User accounts and their API tokens.

Administrators manage every account; everybody else sees and changes only their own
(another user's account answers 404, as if it did not exist).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import ConflictError, NotFoundError, PermissionDeniedError
from assay.records import Role, TokenKind, TokenRecord, UserRecord
from assay.records.base import utcnow
from assay.repositories.users import TokenRepository, UserRepository
from assay.schemas.users import TokenCreate, UserCreate, UserResponse, UserUpdate
from assay.security.passwords import hash_password, verify_password
from assay.security.tokens import new_token, token_hash
from assay.services.audit import AuditTrail
from assay.services.code_policy import may_run_code
from assay.services.projects import ProjectAccess

ME = "me"


def require_admin(user: UserRecord) -> None:
    if not user.is_admin:
        raise PermissionDeniedError("only administrators may do this")


def _no_such_user(name: str) -> NotFoundError:
    return NotFoundError(f"user {name!r} not found", field="user")


def describe(user: UserRecord) -> UserResponse:
    return UserResponse(
        id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        can_run_code=may_run_code(user),
        has_password=user.password_hash is not None,
        default_project=user.default_project_id,
        created_at=user.created_at,
    )


class UserService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)
        self.access = ProjectAccess(session, settings.default_project)
        self.audit = AuditTrail(session)

    def resolve(self, caller: UserRecord, name: str) -> UserRecord:
        """The account ``name`` (``me``: the caller's own) if the caller may manage it."""
        if name in (ME, caller.username):
            return caller
        user = self.users.get_by_username(name) if caller.is_admin else None
        if user is None:
            raise _no_such_user(name)
        return user

    def get(self, username: str) -> UserRecord:
        """Any account by name, for the command line (no caller to check)."""
        user = self.users.get_by_username(username)
        if user is None:
            raise _no_such_user(username)
        return user

    def list_all(self) -> Sequence[UserRecord]:
        return self.users.list_all()

    def create(self, actor: UserRecord | None, body: UserCreate) -> UserRecord:
        """A new account; ``actor`` None when the command line creates it."""
        if body.username == ME:
            raise ConflictError(f"the user name {ME!r} is reserved", field="username")
        if self.users.get_by_username(body.username) is not None:
            raise ConflictError(f"user {body.username!r} already exists", field="username")
        user = UserRecord(
            username=body.username,
            is_admin=body.is_admin,
            can_run_code=body.can_run_code,
            password_hash=hash_password(body.password.get_secret_value()) if body.password else None,
        )
        try:
            self.users.add(user)
            self.audit.record(
                actor, "create", "user", user.username, is_admin=user.is_admin, can_run_code=user.can_run_code
            )
            self.session.commit()
        except IntegrityError as exc:  # the same name, created at the same moment elsewhere
            self.session.rollback()
            raise ConflictError(f"user {body.username!r} already exists", field="username") from exc
        return user

    def update(self, actor: UserRecord, user: UserRecord, body: UserUpdate) -> UserRecord:
        changed = sorted(body.model_fields_set - {"current_password"})
        if "default_project" in body.model_fields_set:
            wanted = body.default_project
            user.default_project_id = self.access.require(user, wanted, Role.VIEWER).id if wanted else None
        if body.is_admin is not None and body.is_admin != user.is_admin:
            require_admin(actor)
            self._keep_server_admin(user)
            user.is_admin = body.is_admin
        if body.can_run_code is not None and body.can_run_code != user.can_run_code:
            require_admin(actor)
            self._record_code_permission(actor, user, body.can_run_code)
        if body.password is not None:
            self._change_password(actor, user, body)
        self.audit.record(actor, "update", "user", user.username, fields=changed)
        self.session.commit()
        return user

    def set_code_permission(self, user: UserRecord, allowed: bool) -> None:
        """For the command line: grant or revoke the permission to run code (see
        ``assay.services.code_policy``)."""
        self._record_code_permission(None, user, allowed)
        self.session.commit()

    def _record_code_permission(self, actor: UserRecord | None, user: UserRecord, allowed: bool) -> None:
        if user.can_run_code != allowed:
            user.can_run_code = allowed
            self.audit.record(actor, "grant" if allowed else "revoke", "code_permission", user.username)

    def _change_password(self, actor: UserRecord, user: UserRecord, body: UserUpdate) -> None:
        """Your own password needs the current one, so that a stolen session cannot take over
        the account; every web session of the user ends (API tokens stay valid)."""
        assert body.password is not None
        if actor.id == user.id and user.password_hash is not None:
            current = body.current_password.get_secret_value() if body.current_password else ""
            if not verify_password(user.password_hash, current):
                raise PermissionDeniedError("the current password is wrong", field="current_password")
        user.password_hash = hash_password(body.password.get_secret_value())
        self.tokens.delete_all(user.id, TokenKind.SESSION)

    def set_password(self, user: UserRecord, password: str) -> None:
        """For the command line and the first start: no current password needed."""
        user.password_hash = hash_password(password)
        self.tokens.delete_all(user.id, TokenKind.SESSION)
        self.audit.record(None, "update", "user", user.username, fields=["password"])
        self.session.commit()

    def delete(self, actor: UserRecord, user: UserRecord) -> None:
        if user.id == actor.id:
            raise ConflictError("you cannot delete your own account", field="user")
        self._keep_server_admin(user)
        self.users.delete(user)
        self.audit.record(actor, "delete", "user", user.username)
        self.session.commit()

    def _keep_server_admin(self, user: UserRecord) -> None:
        """The account of ``ASSAY_ADMIN_USERNAME`` always exists and is an administrator: it
        is the local user of embedded mode, and it guarantees that one administrator is left."""
        if user.username == self.settings.admin_username:
            raise ConflictError(
                f"{user.username!r} is the server's admin account: it cannot be deleted or demoted",
                field="user",
            )

    def list_tokens(self, user: UserRecord) -> Sequence[TokenRecord]:
        return self.tokens.list_for(user.id, TokenKind.API)

    def issue_token(
        self, actor: UserRecord | None, user: UserRecord, body: TokenCreate
    ) -> tuple[TokenRecord, str]:
        """A new API token for ``user``; returns the record and the token, which is not kept."""
        if any(token.name == body.name for token in self.list_tokens(user)):
            raise ConflictError(f"{user.username} already has a token named {body.name!r}", field="name")
        value = new_token()
        expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
        record = self.tokens.add(
            TokenRecord(
                user_id=user.id,
                kind=TokenKind.API,
                name=body.name,
                token_hash=token_hash(value),
                expires_at=expires,
            )
        )
        self.audit.record(actor, "create", "token", record.id, user=user.username, name=body.name)
        self.session.commit()
        return record, value

    def revoke_token(self, actor: UserRecord, user: UserRecord, token_id: uuid.UUID) -> None:
        token = self.tokens.get(user.id, token_id)
        if token is None or token.kind != TokenKind.API:
            raise NotFoundError(f"token {token_id} not found", field="token_id")
        self.tokens.delete(token)
        self.audit.record(actor, "revoke", "token", token.id, user=user.username, name=token.name)
        self.session.commit()
