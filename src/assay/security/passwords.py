"""Password hashing with argon2id (the OWASP recommendation), verified in constant work."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. A missing hash still costs one verification, so that
    response times do not tell which user names exist."""
    try:
        return _hasher.verify(password_hash or _unmatchable_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _unmatchable_hash() -> str:
    return _hasher.hash("no password set: this hash only spends the time of a real check")
