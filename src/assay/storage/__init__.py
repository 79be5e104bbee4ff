"""Object storage: one contract (``ObjectStore``), implementations chosen by URL scheme."""

from assay.storage.base import ObjectInfo, ObjectStore, ObjectWriter, StorageError
from assay.storage.factory import open_store

__all__ = ["ObjectInfo", "ObjectStore", "ObjectWriter", "StorageError", "open_store"]
