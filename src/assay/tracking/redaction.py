"""Turns configuration into tracking parameters with every secret taken out.

Secrets must never reach the tracking server, nor the outbox rows waiting for it, so this runs
when an operation is enqueued (and the tracker trusts its input). A value is hidden when the
name it is stored under says it is a secret (``api_key``, ``headers.Authorization``, ...),
and a password written inside a URL is hidden wherever it appears.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

REDACTED = "<REDACTED>"

_SECRET_WORDS = frozenset(
    {
        "accesskey",
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "passphrase",
        "passwd",
        "password",
        "privatekey",
        "pwd",
        "secret",
        "token",
    }
)
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("session", "key")})
# ``secret_key_name`` names a stored secret and ``token_limit`` bounds generation: they refer to
# or measure something, they are not the secret itself.
_REFERENCE_SUFFIXES = frozenset({"name", "names", "id", "ids", "count", "limit"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD_BREAK = re.compile(r"[^a-z0-9]+")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")


def is_secret_name(name: str) -> bool:
    """Whether a value stored under ``name`` (possibly dotted, any case style) is a secret."""
    words = [word for word in _WORD_BREAK.split(_CAMEL.sub(r"\1_\2", name).lower()) if word]
    if not words or words[-1] in _REFERENCE_SUFFIXES:
        return False
    return any(word in _SECRET_WORDS for word in words) or any(
        pair in _SECRET_PAIRS for pair in pairwise(words)
    )


def _scrub(name: str, value: Any) -> Any:
    """``value`` with secrets replaced, keeping its structure (lists may hold mappings)."""
    if is_secret_name(name):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(key): _scrub(f"{name}.{key}", item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(name, item) for item in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\1{REDACTED}@", value)
    return value


def _flatten(prefix: str, value: Any, into: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    elif isinstance(value, str):
        into[prefix] = value
    elif isinstance(value, list | tuple):
        into[prefix] = json.dumps(value, default=str)
    else:
        into[prefix] = str(value)


def prepare_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Flat ``{"generation.temperature": "0.2"}`` parameters (or tags) from nested configuration,
    secrets redacted. Lists become JSON text."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        _flatten(str(key), _scrub(str(key), value), flat)
    return flat
