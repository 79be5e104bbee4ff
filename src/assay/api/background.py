"""The app served by uvicorn in a background thread on a free loopback port: ``assay eval``
without a server runs one for the command (as ``mlflow`` does with a local store), and tests
use it to get a real socket. The settings' ``job_api_url`` points at it, so that jobs reach
the internal job API of this very server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from assay.api.app import create_app
from assay.config import Settings

START_TIMEOUT = 120.0


@contextlib.contextmanager
def serve_in_background(settings: Settings) -> Iterator[tuple[FastAPI, str]]:
    """The app built from ``settings``, served until the block ends, and its base URL."""
    with serve_app_in_background(
        lambda url: create_app(settings.model_copy(update={"job_api_url": url}))
    ) as served:
        yield served


@contextlib.contextmanager
def serve_app_in_background(build: Callable[[str], FastAPI]) -> Iterator[tuple[FastAPI, str]]:
    """The app ``build`` makes for the base URL it will be served at (known before it is
    built), served until the block ends, and that URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = build(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        yield app, url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
