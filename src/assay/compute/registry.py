"""The engine of every cluster Assay's jobs run on.

Ray is not a boundary between tenants, so an administrator may bind a project to a cluster
of its own (``ProjectRecord.ray_address``). Each job records the address it was sent to, and
everything that talks to the engine about a job (submit, poll, logs, stop) asks this registry
for that address, so a later change of the project's binding never orphans a running job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from assay.compute.base import ComputeEngine


class ComputeRegistry:
    """The server's default engine, plus one engine per bound address, made on first use
    (the reconciler and request threads share it) and closed with the registry."""

    def __init__(self, default: ComputeEngine, connect: Callable[[str], ComputeEngine]) -> None:
        self.default = default
        self._connect = connect
        self._engines: dict[str, ComputeEngine] = {}
        self._lock = threading.Lock()

    def engine(self, address: str | None) -> ComputeEngine:
        """The engine for a project's or job's ``ray_address`` (None: the default one)."""
        if not address:
            return self.default
        with self._lock:
            if address not in self._engines:
                self._engines[address] = self._connect(address)
            return self._engines[address]

    def close(self) -> None:
        with self._lock:
            engines = [self.default, *self._engines.values()]
            self._engines.clear()
        for engine in engines:
            engine.close()
