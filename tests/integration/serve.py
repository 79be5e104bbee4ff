"""A real ``assay serve`` process with default settings, for tests of what uvicorn and a
browser see."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from assay.testing.servers import free_port, wait_until


@contextlib.contextmanager
def assay_serve(home: Path, **settings: str) -> Iterator[str]:
    """Yields the server's base URL. Only ``ASSAY_HOME`` and the ``ASSAY_*`` variables given
    are set: everything else is the embedded default (loopback, no credentials)."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(home), **{f"ASSAY_{k.upper()}": v for k, v in settings.items()}})
    home.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    with (home / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "assay.cli.main", "serve", "--port", str(port), "--log-level", "warning"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: httpx.get(f"{base_url}/api/v1/health/").status_code == 200, 90, "assay serve")
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=60)
