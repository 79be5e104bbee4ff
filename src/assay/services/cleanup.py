"""Deletes object-store prefixes that SQL no longer points at (the cleanup outbox)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from assay.records.base import utcnow
from assay.repositories.cleanups import CleanupRepository
from assay.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)
RETRY_DELAY = dt.timedelta(minutes=1)


class ObjectCleanupService:
    def __init__(self, session: Session, store: ObjectStore) -> None:
        self.session = session
        self.store = store
        self.cleanups = CleanupRepository(session)

    def lease(self, prefix: str, ttl: dt.timedelta) -> int:
        """Claim ``prefix`` before writing objects under it (committed at once): if nobody
        ``release``s the lease within ``ttl`` (the writer crashed), a sweep deletes the prefix."""
        lease = self.cleanups.schedule(prefix, utcnow() + ttl)
        self.session.commit()
        return lease.id

    def release(self, lease_id: int) -> None:
        """Keep the objects: called inside the transaction that makes SQL point at them."""
        lease = self.cleanups.get(lease_id)
        if lease is not None:
            self.cleanups.delete(lease)

    def abandon(self, lease_id: int) -> None:
        """The write failed: delete what it left now (or at the next sweep if storage is down)."""
        self.session.rollback()
        lease = self.cleanups.get(lease_id)
        if lease is not None:
            lease.not_before = utcnow()
            self.session.commit()
            self.run_one(lease_id)

    def schedule(self, prefix: str) -> int:
        """Delete ``prefix`` once the caller's transaction commits (call ``run_one`` then)."""
        return self.cleanups.schedule(prefix, utcnow()).id

    def run_one(self, cleanup_id: int) -> bool:
        """Delete one prefix now; on a storage failure keep the entry for a later sweep."""
        cleanup = self.cleanups.get(cleanup_id)
        if cleanup is None:
            return True
        try:
            self.store.delete_prefix(cleanup.prefix)
        except (StorageError, OSError) as exc:
            cleanup.attempts += 1
            cleanup.last_error = str(exc)[:1000]
            cleanup.not_before = utcnow() + RETRY_DELAY * min(cleanup.attempts, 60)
            self.session.commit()
            log.warning("object cleanup of %s failed (attempt %d): %s", cleanup.prefix, cleanup.attempts, exc)
            return False
        self.cleanups.delete(cleanup)
        self.session.commit()
        return True

    def sweep(self, limit: int = 100, now: dt.datetime | None = None) -> int:
        """Run every cleanup due at ``now`` (default: the present); returns how many succeeded."""
        due = [cleanup.id for cleanup in self.cleanups.due(now or utcnow(), limit)]
        return sum(1 for cleanup_id in due if self.run_one(cleanup_id))
