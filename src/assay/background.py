"""The server's background duties: each runs in every process, but only its leader acts.

- reconcile: advance jobs and workflows (``Reconciler``); woken at once by a request that
  creates or changes one (``assay.wakeup``), and looking often while any is active
- track: replay the tracking outbox into MLflow (``TrackingDrain``), apart from reconciling so
  that a slow tracking server never delays a job
- clean: delete object prefixes nothing points at (idempotent, so every process may sweep)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.runtime import Runtime
from assay.services.cleanup import ObjectCleanupService
from assay.services.leadership import Leadership, holder_id
from assay.services.reconciler import Reconciler
from assay.services.tracking import TrackingDrain
from assay.wakeup import QUIET, Wakeup

log = logging.getLogger(__name__)
SHUTDOWN_REASON = "the server shut down, and its local Ray head with it"
Duty = Callable[[Runtime, Session], object]


class Reconcile:
    """The reconciler duty. Its first pass also starts the warm worker when the settings say
    so (``ASSAY_WARM_POOL_AT_START``): the local Ray head and the worker cost seconds to start,
    and a user's first workflow should not wait for them. Starting it in a pass of the duty,
    not beside it, keeps one pass at a time deciding whether a worker is alive."""

    def __init__(self, settings: Settings) -> None:
        self.warm_start = settings.warm_pool and settings.warm_pool_at_start

    def __call__(self, runtime: Runtime, session: Session) -> bool:
        warm_start, self.warm_start = self.warm_start, False
        return reconciler(runtime, session).tick(start_worker=warm_start)


def reconciler(runtime: Runtime, session: Session) -> Reconciler:
    return Reconciler(
        session, runtime.store, runtime.clusters, runtime.settings, runtime.secret_box, runtime.link_signer
    )


def stop_jobs_on_shutdown(runtime: Runtime) -> None:
    """In embedded mode the jobs die with the server's Ray head: say so before it goes."""
    if not runtime.clusters.default.owns_cluster:
        return
    with runtime.session_factory() as session:
        reconciler(runtime, session).stop_all(SHUTDOWN_REASON)


def track(runtime: Runtime, session: Session) -> None:
    TrackingDrain(session, runtime.tracker, runtime.store).drain()


def clean(runtime: Runtime, session: Session) -> None:
    ObjectCleanupService(session, runtime.store).sweep()


def _run_once(runtime: Runtime, name: str, duty: Duty, holder: str | None) -> object:
    """What the duty returned (true: it has work in flight), or ``None`` when another leads."""
    with runtime.session_factory(info={QUIET: True}) as session:
        if holder is None or Leadership(session).take(name, holder):
            return duty(runtime, session)
    return None


def _give_up(runtime: Runtime, name: str, holder: str) -> None:
    with runtime.session_factory() as session:
        Leadership(session).give_up(name, holder)


async def run_duty(
    runtime: Runtime,
    name: str,
    duty: Duty,
    interval: float,
    leader_only: bool = True,
    *,
    busy_interval: float | None = None,
    wakeup: Wakeup | None = None,
) -> None:
    """Run ``duty`` every ``interval`` seconds until cancelled, every ``busy_interval`` while
    it returns true (work in flight), and at once when ``wakeup`` is set; errors are logged,
    never fatal."""
    holder = holder_id() if leader_only else None
    try:
        while True:
            busy: object = False
            try:
                busy = await anyio.to_thread.run_sync(_run_once, runtime, name, duty, holder)
            except Exception:
                log.exception("background duty %s failed", name)
            pause = min(interval, busy_interval) if busy and busy_interval is not None else interval
            if wakeup is None:
                await asyncio.sleep(pause)
            else:
                await wakeup.wait(pause)
    finally:
        if holder is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_give_up, runtime, name, holder)


def start_duties(runtime: Runtime) -> list[asyncio.Task[None]]:
    settings = runtime.settings
    return [
        asyncio.create_task(
            run_duty(
                runtime,
                "reconciler",
                Reconcile(settings),
                settings.reconcile_interval_seconds,
                busy_interval=settings.reconcile_busy_interval_seconds,
                wakeup=runtime.reconciler_wakeup,
            )
        ),
        asyncio.create_task(run_duty(runtime, "tracking", track, settings.tracking_interval_seconds)),
        asyncio.create_task(run_duty(runtime, "cleanup", clean, settings.cleanup_interval_seconds, False)),
    ]
