from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, func, select

from assay.records import OutboxState, TrackingLinkRecord, TrackingOutboxRecord
from assay.repositories.base import Repository


class TrackingOutboxRepository(Repository[TrackingOutboxRecord]):
    record = TrackingOutboxRecord

    def enqueue(self, stream: str, operation: str, payload: dict[str, Any]) -> TrackingOutboxRecord:
        return self.add(TrackingOutboxRecord(stream=stream, operation=operation, payload=payload))

    def due_heads(
        self, now: dt.datetime, limit: int, skipped_streams: Collection[str]
    ) -> Sequence[TrackingOutboxRecord]:
        """The oldest pending operation of each stream, if it is due: a stream's later
        operations never overtake an earlier one that is waiting for its retry."""
        heads = select(func.min(TrackingOutboxRecord.id)).where(
            TrackingOutboxRecord.state == OutboxState.PENDING
        )
        if skipped_streams:
            heads = heads.where(TrackingOutboxRecord.stream.not_in(list(skipped_streams)))
        query = (
            select(TrackingOutboxRecord)
            .where(TrackingOutboxRecord.id.in_(heads.group_by(TrackingOutboxRecord.stream)))
            .where(TrackingOutboxRecord.next_attempt_at <= now)
            .order_by(TrackingOutboxRecord.id)
            .limit(limit)
        )
        return self.session.scalars(query).all()

    def applied(self, operation: TrackingOutboxRecord) -> None:
        """Remove an applied operation by its id: a row that is already gone is not an error
        (applying is idempotent), where deleting the loaded object would warn."""
        self.session.execute(delete(TrackingOutboxRecord).where(TrackingOutboxRecord.id == operation.id))


class TrackingLinkRepository(Repository[TrackingLinkRecord]):
    record = TrackingLinkRecord

    def get(self, key: str) -> TrackingLinkRecord | None:
        return self.session.get(TrackingLinkRecord, key)

    def save(self, key: str, kind: str, stream: str, tracking_id: str) -> None:
        """Record (or, after a replay found it again, confirm) the tracking id of ``key``."""
        link = self.get(key)
        if link is None:
            self.add(TrackingLinkRecord(key=key, kind=kind, stream=stream, tracking_id=tracking_id))
        else:
            link.tracking_id = tracking_id

    def forget_stream(self, stream: str) -> None:
        """Drop the links of an experiment and of every run in it."""
        self.session.execute(delete(TrackingLinkRecord).where(TrackingLinkRecord.stream == stream))
