"""API tokens and session ids: random, shown to their owner once, stored only as a hash.

They carry 256 random bits, so a fast hash (SHA-256) is enough: guessing is hopeless and a
lookup by hash needs no per-row salt. The prefix lets secret scanners recognise a leaked token.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "assay_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
