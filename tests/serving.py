"""The app served on a real socket: jobs call its internal job API over HTTP, and some tests
need what a TestClient never shows (connection resets, keep-alive, many clients at once).

``live_server`` is the server ``assay eval`` runs in embedded mode (uvicorn in a background
thread on a free loopback port). ``served_app`` adds a ``TestClient`` on the same app that is
not entered as a context manager, so it does not run the lifespan again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi.testclient import TestClient

from assay.api.background import serve_in_background as live_server
from assay.config import Settings

__all__ = ["live_server", "served_app", "server_url"]


@contextlib.contextmanager
def served_app(settings: Settings) -> Iterator[TestClient]:
    with live_server(settings) as (app, _):
        yield TestClient(app)


def server_url(client: TestClient) -> str:
    """The real socket a served app listens on (for clients other than the TestClient)."""
    return str(client.app.state.runtime.settings.job_api_url)  # type: ignore[attr-defined]
