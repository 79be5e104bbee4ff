"""CORS for Lumigator's web app on another origin, and the public address links start with."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assay.api.app import create_app
from assay.api.public_url import TrustedProxyHeaders, public_base_url
from assay.config import Settings

UI = "http://lumigator-ui.example:5173"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def test_settings_split_origins_and_proxies(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, allowed_origins=f" {UI}/, https://b.example ,", trusted_proxies="10.0.0.0/8, ::1"
    )
    assert settings.cors_origins == [UI, "https://b.example"]
    assert [str(network) for network in settings.trusted_proxy_networks] == ["10.0.0.0/8", "::1/128"]
    assert Settings(home=tmp_path).cors_origins == []


def test_no_origin_is_allowed_by_default(tmp_path: Path) -> None:
    client = TestClient(
        create_app(Settings(home=tmp_path, allowed_hosts="testserver"))
    )  # no lifespan: nothing reaches a route
    response = client.options("/api/v1/datasets", headers={"Origin": UI, **PREFLIGHT})
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


def test_preflight_of_an_allowed_origin_is_answered(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(home=tmp_path, allowed_origins=UI, allowed_hosts="testserver")))
    response = client.options("/api/v1/datasets", headers={"Origin": UI, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


def test_preflight_of_another_origin_is_refused(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(home=tmp_path, allowed_origins=UI, allowed_hosts="testserver")))
    response = client.options("/api/v1/datasets", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def _echo_app(settings: Settings) -> TrustedProxyHeaders:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "base_url": public_base_url(request, settings),
                "client": request.client.host if request.client else None,
            }
        )

    return TrustedProxyHeaders(Starlette(routes=[Route("/", echo)]), settings)


FORWARDED = {
    "Host": "assay-internal:8000",
    "X-Forwarded-Host": "lab.example.org:8443",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.7",
}


def test_forwarded_host_of_a_trusted_proxy_makes_the_links(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, trusted_proxies="10.0.0.0/8")
    body = TestClient(_echo_app(settings), client=("10.1.2.3", 40000)).get("/", headers=FORWARDED).json()
    assert body == {"base_url": "https://lab.example.org:8443/", "client": "203.0.113.7"}


@pytest.mark.parametrize("trusted", ["", "192.168.0.0/16"])
def test_forwarded_headers_of_anyone_else_are_ignored(tmp_path: Path, trusted: str) -> None:
    settings = Settings(home=tmp_path, trusted_proxies=trusted)
    body = TestClient(_echo_app(settings), client=("10.1.2.3", 40000)).get("/", headers=FORWARDED).json()
    assert body == {"base_url": "http://assay-internal:8000/", "client": "10.1.2.3"}


def test_public_url_setting_wins(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, public_url="https://lab.example.org/assay/", trusted_proxies="10.0.0.0/8"
    )
    body = TestClient(_echo_app(settings), client=("10.1.2.3", 40000)).get("/", headers=FORWARDED).json()
    assert body["base_url"] == "https://lab.example.org/assay/"
