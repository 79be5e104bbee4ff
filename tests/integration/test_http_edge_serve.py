"""The edge as ``assay serve`` runs it: uvicorn's parser bounds the request head, and
X-Forwarded-For from a loopback peer does not get around the login throttle."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import assay_serve

pytestmark = pytest.mark.slow
KIB = 1024
MARKER = b"never-echoed-"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with assay_serve(Path(tmp_path_factory.mktemp("edge-serve"))) as base_url:
        yield base_url


def raw_request(base_url: str, head: bytes) -> bytes:
    """Sends a request head as bytes on a socket and reads what comes back, as an attacker's
    client would; the server may close the connection while the head is still being sent."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def head_with(base_url: str, header_bytes: int) -> bytes:
    host = urlsplit(base_url).netloc.encode()
    filler = (MARKER * (header_bytes // len(MARKER) + 1))[:header_bytes]
    return b"GET /api/v1/no-such-route HTTP/1.1\r\nHost: " + host + b"\r\nX-Big: " + filler + b"\r\n\r\n"


def test_a_head_over_the_limit_gets_431_without_an_echo(server: str) -> None:
    reply = raw_request(server, head_with(server, 100 * KIB))
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert b"ASSAY_MAX_HEADER_BYTES" in reply and MARKER not in reply


def test_a_huge_head_is_cut_off_by_the_parser(server: str) -> None:
    reply = raw_request(server, head_with(server, 64 * KIB * KIB))
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert MARKER not in reply
    assert httpx.get(f"{server}/api/v1/health/").status_code == 200


def failed_logins(base_url: str, attempts: int, forwarded_for: list[str]) -> list[int]:
    statuses = []
    with httpx.Client(base_url=f"{base_url}/api/v1") as client:
        for attempt in range(attempts):
            response = client.post(
                "/auth/login",
                json={"username": "admin", "password": "wrong"},
                headers={"X-Forwarded-For": forwarded_for[attempt % len(forwarded_for)]},
            )
            statuses.append(response.status_code)
    return statuses


def test_rotating_x_forwarded_for_does_not_get_around_the_login_throttle(server: str) -> None:
    addresses = [f"203.0.113.{i}" for i in range(1, 8)]
    assert failed_logins(server, 7, addresses) == [401] * 5 + [429] * 2


def test_x_forwarded_for_counts_from_a_trusted_proxy(tmp_path: Path) -> None:
    with assay_serve(tmp_path / "home", trusted_proxies="127.0.0.1") as base_url:
        assert failed_logins(base_url, 7, [f"203.0.113.{i}" for i in range(1, 8)]) == [401] * 7
        assert failed_logins(base_url, 7, ["198.51.100.1"]) == [401] * 5 + [429] * 2
