"""Choose the object store from ``ASSAY_STORAGE_URL`` by scheme: ``file://`` or ``s3://``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from assay.config import Settings
from assay.storage.base import ObjectStore
from assay.storage.local import LocalObjectStore
from assay.storage.s3 import S3ObjectStore


def open_store(settings: Settings) -> ObjectStore:
    url = urlparse(settings.resolved_storage_url)
    if url.scheme == "file":
        return LocalObjectStore(Path(url.netloc + url.path))
    if url.scheme == "s3":
        secret = settings.s3_secret_access_key
        store = S3ObjectStore(
            url.netloc,
            url.path,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.s3_region,
        )
        store.ensure_bucket()
        return store
    raise ValueError(f"ASSAY_STORAGE_URL has an unsupported scheme {url.scheme!r}; use file:// or s3://")
