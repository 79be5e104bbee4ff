"""Wakes the reconciler of this process as soon as a request changes what it must do.

A request that creates or changes a job or a workflow (a POST, a retry, a stop) would otherwise
wait for the reconciler's next tick. A commit that wrote a ``JobRecord`` or a ``WorkflowRecord``
sets an event the reconciler duty waits on, with its interval as the timeout. The wake-up is
in-process only: another replica's reconciler (if it leads) still notices the row on its tick.
The background duties' own sessions do not wake themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from assay.records import JobRecord, ServiceRecord, WorkflowRecord

WAKES = (JobRecord, ServiceRecord, WorkflowRecord)
QUIET = "assay.quiet"  # a session whose commits wake nobody (the background duties' own)
_PENDING = "assay.wake"


class Wakeup:
    """An asyncio event that any thread may set; the loop that waits binds it on first wait."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def set(self) -> None:
        loop, event_ = self._loop, self._event
        if loop is None or event_ is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(event_.set)

    async def wait(self, seconds: float) -> bool:
        """Whether it was woken (rather than timed out); the event is cleared either way."""
        if self._event is None:
            self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        woken = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
            woken = True
        self._event.clear()
        return woken


def wake_on_changes(factory: sessionmaker[Session], wakeup: Wakeup) -> None:
    """Set ``wakeup`` after every commit of a session from ``factory`` that wrote a job or a
    workflow."""

    def flushed(session: Session, _context: Any) -> None:
        if session.info.get(QUIET):
            return
        touched = (*session.new, *session.dirty)
        if any(isinstance(row, WAKES) for row in touched):
            session.info[_PENDING] = True

    def committed(session: Session) -> None:
        if session.info.pop(_PENDING, False):
            wakeup.set()

    def rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(factory, "after_flush", flushed)
    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_rollback", rolled_back)
