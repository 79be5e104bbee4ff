"""The app served on a real socket, as jobs need it: they call its internal job API over HTTP.

``uvicorn`` runs the app (and its lifespan, once) in a background thread on a free loopback
port, and the settings point ``job_api_url`` at it. Tests talk to the same app through a
``TestClient`` that is not entered as a context manager, so it does not run the lifespan again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.config import Settings

START_TIMEOUT = 120.0


@contextlib.contextmanager
def served_app(settings: Settings) -> Iterator[TestClient]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = settings.model_copy(update={"job_api_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield TestClient(app)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
