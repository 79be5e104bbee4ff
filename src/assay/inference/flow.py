"""Flow control for remote endpoints: an AIMD concurrency limit and retry delays.

The limit starts at the configured bound and *halves* when the endpoint answers 429 (at most
once per round trip: the other requests already in flight when the first 429 arrived carry
old news and must not halve it again), then grows back by one slot per window of successes
(additive increase), like TCP congestion control. Retries wait an exponential backoff with
jitter, or what ``retry-after`` asks when that is longer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


class AdaptiveLimiter:
    """A semaphore whose size moves between ``minimum`` and ``maximum`` (AIMD)."""

    def __init__(self, maximum: int, minimum: int = 1) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self._limit = maximum
        self._successes = 0
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_decrease = -1.0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> float:
        """Wait for a slot; returns the time it was granted (to pass to ``on_rate_limited``)."""
        while self._in_flight >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # we were handed a slot we will not use: pass it on
                raise
        self._in_flight += 1
        return time.monotonic()

    def release(self) -> None:
        self._in_flight -= 1
        self._wake()

    def on_success(self) -> None:
        if self._limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self._limit:
            self._limit += 1
            self._successes = 0
            self._wake()

    def on_rate_limited(self, granted_at: float) -> None:
        """Halve the limit, unless a decrease already happened after this request was sent."""
        if granted_at <= self._last_decrease:
            return
        self._limit = max(self.minimum, self._limit // 2)
        self._successes = 0
        self._last_decrease = time.monotonic()

    def _wake(self) -> None:
        free = self.limit - self._in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI), ``retry-after`` in seconds or as an HTTP date."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class Backoff:
    """Delay before retry ``attempt`` (0-based): "equal jitter" exponential backoff.

    Half the exponential step is fixed and half random, so that clients that failed together
    spread out but none retries immediately. A ``retry-after`` longer than that wins, capped
    at ``max_retry_after_s``.
    """

    base_s: float = 0.5
    max_s: float = 30.0
    max_retry_after_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        step = min(self.max_s, self.base_s * 2.0**attempt)
        backoff = step / 2 + self.rng.uniform(0, step / 2)
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, self.max_retry_after_s))
