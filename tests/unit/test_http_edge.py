"""The edge guards one by one, on requests as the ASGI server hands them over."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from assay.api.edge import (
    LOOPBACK_NAMES,
    EdgeGuard,
    allowed_host_names,
    body_type_guard,
    edge_guards,
    header_size_guard,
    host_guard,
    origin_guard,
)
from assay.config import Settings

HOST = ("Host", "127.0.0.1:8000")


def request(method: str = "POST", *headers: tuple[str, str], scheme: str = "http") -> Request:
    return Request(
        {
            "type": "http",
            "method": method,
            "scheme": scheme,
            "path": "/api/v1/projects",
            "query_string": b"",
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        }
    )


def status(refusal: object) -> int | None:
    return getattr(refusal, "status", None)


@pytest.mark.parametrize(
    ("host", "extra", "names"),
    [
        ("127.0.0.1", [], LOOPBACK_NAMES),
        ("0.0.0.0", [], LOOPBACK_NAMES),
        ("::", [], LOOPBACK_NAMES),
        ("Assay.Example.", ["lab.example"], LOOPBACK_NAMES | {"assay.example", "lab.example"}),
        ("0.0.0.0", ["[fd00::1]", "10.0.0.5"], LOOPBACK_NAMES | {"fd00::1", "10.0.0.5"}),
        ("0.0.0.0", ["*"], None),
    ],
)
def test_allowed_host_names(host: str, extra: list[str], names: frozenset[str] | None) -> None:
    assert allowed_host_names(Settings(host=host, allowed_hosts=extra)) == names


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_ALLOWED_HOSTS", "a.example, b.example,")
    monkeypatch.setenv("ASSAY_TRUSTED_PROXIES", "10.0.0.0/8")
    settings = Settings()
    assert settings.allowed_hosts == ["a.example", "b.example"]
    assert settings.trusted_proxies == ["10.0.0.0/8"]
    assert settings.allowed_origins == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", None),
        ("localhost", None),
        ("LOCALHOST:1", None),
        ("[::1]:8000", None),
        ("lab.example:443", None),
        ("attacker.example", 400),
        ("attacker.example:8000", 400),
        ("127.0.0.1.attacker.example", 400),
        ("attacker.example@127.0.0.1", 400),
        ("127.0.0.1:notaport", 400),
        ("", 400),
    ],
)
def test_host_guard(value: str, expected: int | None) -> None:
    guard = host_guard(Settings(allowed_hosts=["lab.example"]))
    headers = [("Host", value)] if value else []
    assert status(guard(request("GET", *headers))) == expected


def test_host_guard_names_the_header_not_the_value() -> None:
    refusal = host_guard(Settings())(request("GET", ("Host", "attacker.example")))
    assert refusal is not None and refusal.field == "Host" and "attacker" not in refusal.detail


ORIGIN_CASES = [
    # (method, headers, expected status)
    ("POST", [("Origin", "http://127.0.0.1:8000")], None),
    ("POST", [("Origin", "http://evil.example")], 403),
    ("POST", [("Origin", "http://127.0.0.1:9999")], 403),
    ("POST", [("Origin", "https://127.0.0.1:8000")], 403),
    ("POST", [("Origin", "null")], 403),
    ("DELETE", [("Origin", "http://evil.example")], 403),
    ("PUT", [("Sec-Fetch-Site", "cross-site")], 403),
    ("PATCH", [("Sec-Fetch-Site", "same-site")], 403),
    ("POST", [("Sec-Fetch-Site", "same-origin")], None),
    ("POST", [("Referer", "http://evil.example/page")], 403),
    ("POST", [("Referer", "http://127.0.0.1:8000/docs")], None),
    ("POST", [], None),  # not a browser: curl, the Lumigator SDK
    ("GET", [("Origin", "http://evil.example")], None),
    ("POST", [("Origin", "http://evil.example"), ("Cookie", "assay_session=s")], 403),
    ("POST", [("Origin", "http://evil.example"), ("Authorization", "Basic YTpi")], 403),
    ("POST", [("Origin", "http://evil.example"), ("Authorization", "Bearer assay_t")], None),
    ("POST", [("Origin", "http://ui.example:3000")], None),
]


@pytest.mark.parametrize(("method", "headers", "expected"), ORIGIN_CASES)
def test_origin_guard(method: str, headers: list[tuple[str, str]], expected: int | None) -> None:
    guard = origin_guard(Settings(allowed_origins=["http://UI.example:3000"]))
    assert status(guard(request(method, HOST, *headers))) == expected


def test_origin_guard_compares_with_the_scheme_of_the_request() -> None:
    guard = origin_guard(Settings())
    secure = request("POST", ("Host", "lab.example"), ("Origin", "https://lab.example:443"), scheme="https")
    assert guard(secure) is None
    assert status(guard(request("POST", ("Host", "lab.example"), ("Origin", "https://lab.example")))) == 403


def test_allowed_origins_must_be_origins() -> None:
    with pytest.raises(ValueError, match="ASSAY_ALLOWED_ORIGINS"):
        origin_guard(Settings(allowed_origins=["lab.example"]))


BODY_CASES = [
    ([("Content-Type", "application/json")], None),
    ([("Content-Type", "application/json; charset=utf-8")], None),
    ([("Content-Type", "application/merge-patch+json")], None),
    ([("Content-Type", "multipart/form-data; boundary=x")], None),
    ([("Content-Type", "text/plain")], 415),
    ([("Content-Type", "text/plain; charset=utf-8")], 415),
    ([("Content-Type", "application/x-www-form-urlencoded")], 415),
    ([("Content-Type", "application/octet-stream")], 415),
    ([], None),  # the Lumigator SDK's JSON
    ([("Sec-Fetch-Mode", "no-cors")], 415),  # a browser's Blob body
    ([("Origin", "http://127.0.0.1:8000")], 415),
]


@pytest.mark.parametrize(("headers", "expected"), BODY_CASES)
def test_body_type_guard(headers: list[tuple[str, str]], expected: int | None) -> None:
    assert status(body_type_guard(request("POST", HOST, ("Content-Length", "2"), *headers))) == expected


def test_body_type_guard_ignores_requests_without_a_body() -> None:
    assert body_type_guard(request("PUT", HOST, ("Content-Type", "text/plain"))) is None
    assert body_type_guard(request("POST", ("Content-Length", "0"), ("Content-Type", "text/plain"))) is None
    chunked = request("POST", ("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain"))
    assert status(body_type_guard(chunked)) == 415


def test_header_size_guard_does_not_echo_the_headers() -> None:
    guard = header_size_guard(1024)
    assert guard(request("GET", HOST, ("X-Small", "a" * 900))) is None
    refusal = guard(request("GET", HOST, ("X-Big", "secret" * 200)))
    assert refusal is not None and refusal.status == 431 and "secret" not in refusal.detail


def test_websocket_handshakes_pass_the_same_guards() -> None:
    """A WebSocket to the gateway from a rebound name is refused before the app sees it; the
    JSON-only body rule never applies to the gateway's paths."""

    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app = EdgeGuard(Starlette(routes=[WebSocketRoute("/ws", hello)]), edge_guards(Settings()))
    client = TestClient(app)
    with client.websocket_connect("/ws", headers={"host": "127.0.0.1:8000"}) as socket:
        assert socket.receive_text() == "hello"
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws", headers={"host": "evil.example"}),
    ):
        pass
    proxied = request("POST", HOST, ("Content-Type", "text/plain"), ("Content-Length", "3"))
    proxied.scope["path"] = "/api/v1/projects/p/services/web/proxy/upload"
    assert body_type_guard(proxied) is None
