"""Download links behind a reverse proxy that forwards the public host (and drops the port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.config import Settings
from tests.helpers import csv_bytes

API = "/api/v1"
PROXY = ("10.0.0.2", 41000)
FORWARDED = {"Host": "assay:8000", "X-Forwarded-Host": "lab.example.org:8443", "X-Forwarded-Proto": "https"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        home=tmp_path,
        trusted_proxies="10.0.0.0/24",
        allowed_hosts="testserver,assay,lab.example.org",
        cleanup_interval_seconds=3600.0,
    )
    with TestClient(create_app(settings), client=PROXY) as client:
        yield client


def test_links_use_the_trusted_proxys_forwarded_host(app: TestClient) -> None:
    dataset = app.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]
    urls = app.get(f"{API}/datasets/{dataset}/download", headers=FORWARDED).json()["download_urls"]
    assert urls and all(url.startswith("https://lab.example.org:8443/api/v1/objects?") for url in urls)
    # The link works once the proxy passes it on.
    path = urls[0].removeprefix("https://lab.example.org:8443")
    assert app.get(path).content == csv_bytes()

    direct = TestClient(app.app, client=("192.0.2.50", 5000))  # not the proxy: its headers are ignored
    urls = direct.get(f"{API}/datasets/{dataset}/download", headers=FORWARDED).json()["download_urls"]
    assert all(url.startswith("http://assay:8000/api/v1/objects?") for url in urls)
