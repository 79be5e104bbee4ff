"""Deletes object-store prefixes that SQL no longer points at (the cleanup outbox), and the
lease every upload path writes under (``ObjectLease``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import anyio
from sqlalchemy.orm import Session

from assay.records.base import utcnow
from assay.repositories.cleanups import CleanupRepository
from assay.storage import ObjectStore, ObjectWriter, StorageError

log = logging.getLogger(__name__)
RETRY_DELAY = dt.timedelta(minutes=1)
W = TypeVar("W", bound=ObjectWriter)


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


class ObjectLease:
    """Objects written before the SQL row that points at them: the one protocol of every
    upload path (datasets, files, job documents).

    Entering takes a lease on ``prefix`` (committed at once, so a crashed writer's objects are
    swept when it expires). The body writes the objects and calls ``release()`` inside the
    transaction that records the row, then commits. If the body raises anything (a bad
    input, a storage failure, a cancelled request), the lease is abandoned: the writers
    registered with ``track`` are aborted, the other ``on_failure`` steps run, and the prefix
    is deleted now (or by the next sweep if storage is down), so no object is left without a
    row. The async form does this shielded from cancellation, in a worker thread.

    Storage failures need no translation here: ``StorageError`` is itself the 503 the API
    returns."""

    def __init__(self, session: Session, store: ObjectStore, prefix: str, ttl: dt.timedelta) -> None:
        self.cleanup = ObjectCleanupService(session, store)
        self.prefix = prefix
        self.ttl = ttl
        self.lease_id: int | None = None
        self._undo: list[Callable[[], None]] = []

    def track(self, writer: W) -> W:
        """Abort ``writer`` if the upload fails; returns it."""
        self._undo.append(writer.abort)
        return writer

    def on_failure(self, step: Callable[[], None]) -> None:
        self._undo.append(step)

    def release(self) -> None:
        """Keep the objects: call inside the transaction that records the row, before it
        commits."""
        assert self.lease_id is not None, "release() outside the lease's block"
        self.cleanup.release(self.lease_id)

    def abandon(self) -> None:
        for step in reversed(self._undo):
            try:
                step()
            except (StorageError, OSError) as exc:
                log.warning(
                    "undoing a failed upload under %s failed (%s); the outbox removes it", self.prefix, exc
                )
        if self.lease_id is not None:
            self.cleanup.abandon(self.lease_id)

    def __enter__(self) -> Self:
        self.lease_id = self.cleanup.lease(self.prefix, self.ttl)
        return self

    def _abandon_logged(self) -> None:
        """Abandon without hiding the failure that caused it."""
        try:
            self.abandon()
        except Exception:
            log.exception("cleanup after a failed upload under %s failed; the outbox retries it", self.prefix)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is not None:
            self._abandon_logged()

    async def __aenter__(self) -> Self:
        return await anyio.to_thread.run_sync(self.__enter__)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is None:
            return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._abandon_logged)
