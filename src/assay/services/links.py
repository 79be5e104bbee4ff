"""Download links to stored objects, starting with the server's address as the caller sees it."""

from __future__ import annotations

from dataclasses import dataclass

from assay.security.links import LinkSigner
from assay.storage import ObjectStore


@dataclass(frozen=True)
class DownloadLinks:
    """``base_url`` is the public address of the API (``ASSAY_PUBLIC_URL``, or the trusted
    proxy's forwarded host, or the request's own), which every link it builds starts with."""

    store: ObjectStore
    signer: LinkSigner
    ttl_seconds: int
    base_url: str

    def api(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def object_url(self, key: str, filename: str, *, direct: bool = True) -> str:
        """A presigned S3 URL where the store makes them (and ``direct``), else a signed link
        through the API, whose signature covers the key, the file name and the expiry."""
        url = self.store.presigned_url(key, filename, self.ttl_seconds) if direct else None
        return url or self.api(f"/api/v1/objects?{self.signer.query(key, filename, self.ttl_seconds)}")
