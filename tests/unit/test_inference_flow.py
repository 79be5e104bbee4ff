"""AIMD concurrency limit, backoff delays and retry-after parsing."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from assay.inference.flow import AdaptiveLimiter, Backoff, parse_retry_after


def test_rate_limiting_halves_the_limit_once_per_round_trip() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(16)
        granted = [await limiter.acquire() for _ in range(8)]
        limiter.on_rate_limited(granted[0])
        assert limiter.limit == 8
        for stale in granted[1:]:  # the same congestion, reported by requests already in flight
            limiter.on_rate_limited(stale)
        assert limiter.limit == 8
        for _ in granted:
            limiter.release()
        fresh = await limiter.acquire()
        limiter.on_rate_limited(fresh)
        assert limiter.limit == 4
        limiter.release()

    asyncio.run(scenario())


def test_the_limit_never_drops_below_the_minimum_and_grows_back_by_one_per_window() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(8, minimum=2)
        for _ in range(5):
            limiter.on_rate_limited(await limiter.acquire())
            limiter.release()
        assert limiter.limit == 2
        for _ in range(2):  # a window of 2 successes: +1
            limiter.on_success()
        assert limiter.limit == 3
        for _ in range(200):
            limiter.on_success()
        assert limiter.limit == 8

    asyncio.run(scenario())


def test_waiters_get_the_slots_the_limit_allows() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(4)
        limiter.on_rate_limited(await limiter.acquire())  # limit 2, one slot taken
        await limiter.acquire()
        peak = 0

        async def request() -> None:
            nonlocal peak
            await limiter.acquire()
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0)
            limiter.release()

        waiting = [asyncio.create_task(request()) for _ in range(6)]
        await asyncio.sleep(0)
        assert limiter.in_flight == 2  # all six wait
        limiter.release()
        limiter.release()
        await asyncio.gather(*waiting)
        assert peak == 2
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(1)
        await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot to `first`...
        first.cancel()  # ...which is cancelled before it runs
        await asyncio.wait_for(second, timeout=5)
        assert first.cancelled() and limiter.in_flight == 1

    asyncio.run(scenario())


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, max_s=8.0, rng=random.Random(1))
    for attempt, step in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0)]:
        delays = {backoff.delay(attempt) for _ in range(50)}
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(delays) > 1  # jittered


def test_backoff_honours_a_longer_retry_after_up_to_its_cap() -> None:
    backoff = Backoff(base_s=0.1, max_s=1.0, max_retry_after_s=30.0)
    assert backoff.delay(0, retry_after=5.0) == 5.0
    assert backoff.delay(0, retry_after=500.0) == 30.0
    assert backoff.delay(0, retry_after=0.0) <= 0.1


def test_retry_after_in_seconds_milliseconds_or_as_a_date() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert parse_retry_after({"retry-after": future}) == pytest.approx(60, abs=2)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
