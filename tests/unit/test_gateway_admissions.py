"""The gateway's admissions: callers with the same credential who arrive together wait for one
lookup (when an entry expires under load, not one thread each), share its refusal, and one
that goes away does not cancel it for the others."""

from __future__ import annotations

import asyncio
import threading

import pytest

from assay.api.gateway import Admissions
from assay.errors import NotFoundError

KEY = (b"digest", "project", "service")


def test_callers_together_share_one_lookup() -> None:
    calls = []
    release = threading.Event()

    def authorize() -> tuple[str, ...]:
        calls.append(1)
        release.wait(5)
        return ("http://127.0.0.1:9",)

    async def scenario() -> None:
        admissions = Admissions()
        waiting = [asyncio.create_task(admissions.lookup(KEY, authorize)) for _ in range(20)]
        await asyncio.sleep(0.05)
        waiting[0].cancel()  # a caller that went away
        release.set()
        answers = await asyncio.gather(*waiting[1:])
        assert answers == [("http://127.0.0.1:9",)] * 19
        assert admissions.get(KEY) == ("http://127.0.0.1:9",)

    asyncio.run(scenario())
    assert len(calls) == 1


def test_a_refusal_reaches_every_caller_and_is_not_kept() -> None:
    def refuse() -> tuple[str, ...]:
        raise NotFoundError("project 'project' not found", field="project")

    async def scenario() -> None:
        admissions = Admissions()
        outcomes = await asyncio.gather(
            *(admissions.lookup(KEY, refuse) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, NotFoundError) for outcome in outcomes)
        assert admissions.get(KEY) is None
        with pytest.raises(NotFoundError):
            await admissions.lookup(KEY, refuse)

    asyncio.run(scenario())
