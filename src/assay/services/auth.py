"""Who is calling: API tokens (Bearer, or HTTP Basic with the token as password), web session
cookies issued by a rate-limited login, or, in embedded mode on loopback, the local admin.

SQL is the only store of credentials and login failures, so any replica can check any request
and a revocation takes effect on the very next request everywhere.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import AuthenticationError, NotFoundError, TooManyRequestsError
from assay.records import LoginFailureRecord, TokenKind, TokenRecord, UserRecord
from assay.records.base import utcnow
from assay.repositories.users import LoginFailureRepository, TokenRepository, UserRepository
from assay.security.passwords import hash_password, needs_rehash, verify_password
from assay.security.tokens import new_token, token_hash

log = logging.getLogger(__name__)
# ``last_used_at`` is a convenience for people reviewing their tokens: writing it on every
# request would turn each read into a write, so it is refreshed at most this often.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
REJECTED = "invalid, expired or revoked credentials"


@dataclass(frozen=True)
class Credentials:
    """What a request presented: a token or session id, and for HTTP Basic the user name
    that must own it."""

    secret: str
    kind: TokenKind = TokenKind.API
    username: str | None = None


class Authenticator:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)
        self.failures = LoginFailureRepository(session)

    def authenticate(self, credentials: Credentials | None) -> UserRecord:
        """The calling user. Credentials, when presented, must be valid even where none are
        required: a wrong token never silently becomes the local admin."""
        if credentials is None:
            if self.settings.auth_required:
                raise AuthenticationError(
                    "authentication required: send an API token (Authorization: Bearer, or HTTP "
                    "Basic with the token as password) or log in"
                )
            return self.local_admin()
        now = utcnow()
        token = self.tokens.by_hash(token_hash(credentials.secret))
        if token is None or token.kind != credentials.kind:
            raise AuthenticationError(REJECTED)
        if token.expires_at is not None and token.expires_at <= now:
            raise AuthenticationError(REJECTED)
        user = self.users.get(token.user_id)
        if user is None or (
            credentials.username is not None and credentials.username.lower() != user.username
        ):
            raise AuthenticationError(REJECTED)
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            token.last_used_at = now
            self.session.commit()
        return user

    def local_admin(self) -> UserRecord:
        user = self.users.get_by_username(self.settings.admin_username)
        if user is None:
            raise NotFoundError(
                "the local admin user is missing; restart the server or run `assay db upgrade`"
            )
        return user

    def login(self, username: str, password: str, client: str) -> tuple[UserRecord, str]:
        """Check a password and open a web session; returns the user and the session id.

        Failures are counted per user name and client address over a sliding window; past the
        limit every attempt is refused, right password or not, until the window has moved on.
        """
        username = username.strip().lower()
        key = f"{username}|{client}"[:255]
        now = utcnow()
        window = dt.timedelta(seconds=self.settings.login_window_seconds)
        count, oldest = self.failures.since(key, now - window)
        if count >= self.settings.login_max_failures and oldest is not None:
            wait = max(1, int((oldest + window - now).total_seconds()) + 1)
            raise TooManyRequestsError(
                f"too many failed logins; try again in {wait} seconds", retry_after=wait
            )
        user = self.users.get_by_username(username)
        matches = verify_password(user.password_hash if user is not None else None, password)
        if user is None or not matches:
            self.failures.prune(now - window)
            self.failures.add(LoginFailureRecord(key=key))
            self.session.commit()
            log.info("failed login for user %r from %s", username, client)
            raise AuthenticationError("wrong user name or password")
        assert user.password_hash is not None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        self.failures.clear(key)
        self.tokens.delete_expired(user.id, now)
        session_id = new_token()
        self.tokens.add(
            TokenRecord(
                user_id=user.id,
                kind=TokenKind.SESSION,
                name="web session",
                token_hash=token_hash(session_id),
                expires_at=now + dt.timedelta(seconds=self.settings.session_ttl_seconds),
            )
        )
        self.session.commit()
        return user, session_id

    def logout(self, session_id: str) -> None:
        """End a web session; unknown or already ended sessions are fine."""
        token = self.tokens.by_hash(token_hash(session_id))
        if token is not None and token.kind == TokenKind.SESSION:
            self.tokens.delete(token)
            self.session.commit()
