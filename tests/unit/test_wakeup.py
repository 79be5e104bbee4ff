"""A request's commit wakes the reconciler; the background duties' own commits do not."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from assay.records import Base, JobRecord
from assay.wakeup import QUIET, Wakeup, wake_on_changes


def _job() -> JobRecord:
    job_id = uuid.uuid4()
    return JobRecord(
        id=job_id,
        project_id="default",
        kind="inference",
        name="j",
        config={},
        config_key=f"jobs/{job_id}/config.json",
        results_prefix=f"jobs/{job_id}/results/",
        engine_name="j",
    )


def test_a_commit_that_writes_a_job_wakes_the_waiter_and_a_quiet_or_rolled_back_one_does_not() -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    factory: sessionmaker[Session] = sessionmaker(engine)
    wakeup = Wakeup()
    wake_on_changes(factory, wakeup)

    def write(quiet: bool = False, commit: bool = True) -> None:
        with factory(info={QUIET: True} if quiet else {}) as session:
            session.add(_job())
            session.flush()
            session.commit() if commit else session.rollback()

    async def scenario() -> list[bool]:
        woken = [await wakeup.wait(0.01)]  # nothing yet; binds the event to this loop
        await asyncio.to_thread(write, quiet=True)
        woken.append(await wakeup.wait(0.1))
        await asyncio.to_thread(write, commit=False)
        woken.append(await wakeup.wait(0.1))
        await asyncio.to_thread(write)  # a request's thread
        woken.append(await wakeup.wait(5))
        woken.append(await wakeup.wait(0.01))  # cleared once seen
        return woken

    assert asyncio.run(scenario()) == [False, False, False, True, False]
