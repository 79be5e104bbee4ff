"""Shared plumbing of every repository: a session and paged listing with a real total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from assay.records import Base

RecordT = TypeVar("RecordT", bound=Base)


class Repository(Generic[RecordT]):
    record: type[RecordT]

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, item: RecordT) -> RecordT:
        self.session.add(item)
        self.session.flush()
        return item

    def delete(self, item: RecordT) -> None:
        self.session.delete(item)
        self.session.flush()

    def page(self, query: Select[Any], skip: int, limit: int) -> tuple[Sequence[RecordT], int]:
        """One page of ``query`` and the total number of rows it matches."""
        total = self.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        items = self.session.scalars(query.offset(skip).limit(limit)).all()
        return items, int(total or 0)
