"""The app behind a real HTTP server (uvicorn on loopback, in a thread) for tests where the
connection matters: resets, keep-alive, many clients at once. TestClient shows none of these."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from assay.testing.servers import free_port

START_TIMEOUT = 60.0


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serves ``app`` (its lifespan included) until the block ends; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
