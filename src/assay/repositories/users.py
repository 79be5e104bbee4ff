from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select

from assay.records import LoginFailureRecord, TokenKind, TokenRecord, UserRecord
from assay.repositories.base import Repository


class UserRepository(Repository[UserRecord]):
    record = UserRecord

    def get(self, user_id: uuid.UUID) -> UserRecord | None:
        return self.session.get(UserRecord, user_id)

    def get_by_username(self, username: str) -> UserRecord | None:
        return self.session.scalars(select(UserRecord).where(UserRecord.username == username)).one_or_none()

    def list_all(self) -> Sequence[UserRecord]:
        return self.session.scalars(select(UserRecord).order_by(UserRecord.username)).all()


class TokenRepository(Repository[TokenRecord]):
    record = TokenRecord

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        return self.session.scalars(
            select(TokenRecord).where(TokenRecord.token_hash == token_hash)
        ).one_or_none()

    def get(self, user_id: uuid.UUID, token_id: uuid.UUID) -> TokenRecord | None:
        found = self.session.get(TokenRecord, token_id)
        return found if found is not None and found.user_id == user_id else None

    def list_for(self, user_id: uuid.UUID, kind: TokenKind) -> Sequence[TokenRecord]:
        query = (
            select(TokenRecord)
            .where(TokenRecord.user_id == user_id, TokenRecord.kind == kind)
            .order_by(TokenRecord.created_at, TokenRecord.id)
        )
        return self.session.scalars(query).all()

    def delete_all(self, user_id: uuid.UUID, kind: TokenKind) -> None:
        self.session.execute(
            delete(TokenRecord).where(TokenRecord.user_id == user_id, TokenRecord.kind == kind)
        )

    def delete_expired(self, user_id: uuid.UUID, now: dt.datetime) -> None:
        self.session.execute(
            delete(TokenRecord).where(TokenRecord.user_id == user_id, TokenRecord.expires_at < now)
        )


class LoginFailureRepository(Repository[LoginFailureRecord]):
    record = LoginFailureRecord

    def since(self, key: str, start: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many failures ``key`` had after ``start``, and when the oldest of them was."""
        query = select(func.count(), func.min(LoginFailureRecord.created_at)).where(
            LoginFailureRecord.key == key, LoginFailureRecord.created_at > start
        )
        count, oldest = self.session.execute(query).one()
        return int(count), oldest

    def clear(self, key: str) -> None:
        self.session.execute(delete(LoginFailureRecord).where(LoginFailureRecord.key == key))

    def prune(self, before: dt.datetime) -> None:
        self.session.execute(delete(LoginFailureRecord).where(LoginFailureRecord.created_at <= before))
