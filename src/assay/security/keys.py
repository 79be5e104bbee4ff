"""The server's master key and the purpose-bound keys derived from it.

The master key comes from ``ASSAY_SECRET_KEY`` or is generated once into
``ASSAY_HOME/secret.key`` (mode 0600), so that embedded mode needs no setup and replicas in
production share one key through the environment.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from assay.config import Settings


def load_master_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value().encode()
        if len(value) < 16:
            raise ValueError("ASSAY_SECRET_KEY must be at least 16 characters")
        return value
    return _read_or_create(settings.secret_key_file)


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        key = base64.urlsafe_b64encode(secrets.token_bytes(32))
        handle.write(key)
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """32 bytes bound to ``purpose``, so that one leaked derived key reveals no other."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)
