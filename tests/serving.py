"""The app served on a real socket: jobs call its internal job API over HTTP, and some tests
need what a TestClient never shows (connection resets, keep-alive, many clients at once).

``uvicorn`` runs the app (and its lifespan, once) in a background thread on a free loopback
port, and the settings point ``job_api_url`` at it. ``served_app`` adds a ``TestClient`` on the
same app that is not entered as a context manager, so it does not run the lifespan again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.config import Settings

START_TIMEOUT = 120.0


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[tuple[FastAPI, str]]:
    """The app built from ``settings``, served until the block ends, and its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"job_api_url": url}))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield app, url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


@contextlib.contextmanager
def served_app(settings: Settings) -> Iterator[TestClient]:
    with live_server(settings) as (app, _):
        yield TestClient(app)
