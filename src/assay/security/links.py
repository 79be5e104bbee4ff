"""Signed, expiring download links for objects the API serves itself (local storage)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import urlencode

from assay.security.job_tokens import REDACTED
from assay.security.keys import derive_key

SIGNATURE = re.compile(r"(signature=)[0-9A-Fa-f]+")


class LinkSigner:
    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "assay.download-links.v1")

    def _signature(self, key: str, filename: str, expires: int) -> str:
        message = f"{key}\n{filename}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def query(self, key: str, filename: str, ttl_seconds: int) -> str:
        expires = int(time.time()) + ttl_seconds
        signature = self._signature(key, filename, expires)
        return urlencode({"key": key, "filename": filename, "expires": expires, "signature": signature})

    def verify(self, key: str, filename: str, expires: int, signature: str) -> bool:
        """Any text is a wrong signature, also text that is not ASCII (which ``compare_digest``
        refuses to compare as ``str``)."""
        if expires < time.time():
            return False
        expected = self._signature(key, filename, expires).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass"))


def redact_link_signatures(text: str) -> str:
    """A link's signature is its credential: output that may hold a link keeps only the rest."""
    return SIGNATURE.sub(lambda found: found[1] + REDACTED, text)
