"""The gateway: ``/api/v1/projects/{project}/services/{name}/proxy/{path}`` forwards HTTP and
WebSocket to a running service's private address, with Assay's own authentication and roles
(viewers may call; a non-member sees 404).

Bodies stream both ways (``aiohttp`` with one pooled session per app; nothing is buffered but
an answer of at most ``WHOLE_BODY_BYTES`` that announces its length, so server-sent events and
large uploads pass as they come); WebSockets are relayed with the ``websockets`` package. HTTP
requests are served by ``Gateway`` ahead of the router, inside the edge middlewares.
Assay's credentials (the Authorization header and the session cookie) never reach the service;
``X-Forwarded-For/-Proto/-Host`` and ``X-Forwarded-Prefix`` tell it where it is served, so that
it can build its links.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from http.cookies import SimpleCookie

import aiohttp
import anyio
import websockets
from fastapi import APIRouter, Request, WebSocket
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from websockets.typing import Subprotocol
from yarl import URL

from assay.api.credentials import SESSION_COOKIE, is_ambient, read_credentials
from assay.api.errors import assay_error_response, error_response, status_for
from assay.errors import AssayError
from assay.records import Role, UserRecord
from assay.runtime import Runtime
from assay.services.app_services import ready_addresses
from assay.services.auth import Authenticator
from assay.services.projects import ProjectAccess

log = logging.getLogger(__name__)
API = "/api/v1"
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Besides hop-by-hop: Assay's credential, and what the gateway sets itself.
NOT_FORWARDED = HOP_BY_HOP | {
    "authorization",
    "cookie",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "forwarded",
}
WEBSOCKET_OWN = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)
CONNECT_TIMEOUT = 10.0
KEEPALIVE_EXPIRY = 2.0
# What aiohttp would add on its own: the caller's request goes on as it was sent.
NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
# A service's pages are users' code served from Assay's own origin. In a sandbox without
# allow-same-origin they run in an opaque origin: their scripts cannot read Assay's pages or
# cookies, and their requests to Assay carry no session (and, unsafe ones, ``Origin: null``,
# which the edge refuses). Pages that call their own backend from scripts need an origin of
# their own, which Assay does not give services yet (docs/services.md).
SANDBOX = (
    b"sandbox allow-scripts allow-forms allow-popups allow-downloads allow-modals; frame-ancestors 'none'"
)
# Answers up to this size that announce their length are read whole and sent on in one piece
# (one message through the middlewares instead of three); longer ones and those without a
# length (server-sent events) are streamed.
WHOLE_BODY_BYTES = 64 * 1024
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The route's path as Starlette matches it (``{project}``, ``{name}``: one segment each).
PROXY_ROUTE = re.compile(
    rf"{API}/projects/(?P<project>[^/]+)/services/(?P<name>[^/]+)/proxy/(?P<path>.*)", re.S
)
ADMISSION_TTL = 1.0
ADMISSION_ENTRIES = 10_000
router = APIRouter()


def new_client() -> aiohttp.ClientSession:
    """One per app: its pool keeps connections to the services alive between requests (aiohttp:
    at concurrency 32 httpx's pool reached a fifteenth of its rate here). No read timeout: a
    stream of events may stay quiet for long. Idle connections are dropped well before servers
    drop theirs (uvicorn after 5 s), so that a request is never sent on a connection the service
    is closing at that moment. Bodies pass as they are (no decompression), and no cookie is
    kept between callers."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_EXPIRY),
        timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def prefix(project: str, name: str) -> str:
    return f"{API}/projects/{project}/services/{name}/proxy"


def _without_session_cookie(header: str | None) -> str | None:
    """The caller's cookies for the service's own use, less Assay's session."""
    if not header:
        return None
    jar = SimpleCookie()
    jar.load(header)
    kept = [f"{key}={morsel.coded_value}" for key, morsel in jar.items() if key != SESSION_COOKIE]
    return "; ".join(kept) or None


def forwarded_headers(
    headers: Iterable[tuple[str, str]],
    client: str,
    scheme: str,
    host: str,
    path_prefix: str,
    skip: frozenset[str],
) -> list[tuple[str, str]]:
    raw = list(headers)
    previous = [value for name, value in raw if name.lower() == "x-forwarded-for"]
    kept = [(name, value) for name, value in raw if name.lower() not in skip]
    cookie = _without_session_cookie("; ".join(value for name, value in raw if name.lower() == "cookie"))
    if cookie:
        kept.append(("cookie", cookie))
    kept += [
        ("x-forwarded-for", ", ".join([*previous, client])),
        ("x-forwarded-proto", scheme),
        ("x-forwarded-host", host),
        ("x-forwarded-prefix", path_prefix),
    ]
    return kept


def _target(address: str, path: str, query: str) -> str:
    return f"{address}/{path}" + (f"?{query}" if query else "")


async def send_to_replicas(
    client: aiohttp.ClientSession,
    method: str,
    addresses: tuple[str, ...],
    target: Callable[[str], URL],
    headers: list[tuple[str, str]],
    body: Callable[[], AsyncIterator[bytes]] | None,
) -> aiohttp.ClientResponse:
    """The request to the first replica that takes the connection. One that refuses it (its
    process has just died, and the health checks have not noticed yet) never saw the request,
    so the next ready replica gets it, whatever the method; the body is read only once one has
    taken it."""
    for address in addresses[:-1]:
        try:
            return await _request(client, method, target(address), headers, body)
        except aiohttp.ClientConnectorError as exc:
            log.info("replica at %s refused the connection (%r); trying the next one", address, exc)
    return await _request(client, method, target(addresses[-1]), headers, body)


async def _request(
    client: aiohttp.ClientSession,
    method: str,
    url: URL,
    headers: list[tuple[str, str]],
    body: Callable[[], AsyncIterator[bytes]] | None,
) -> aiohttp.ClientResponse:
    return await client.request(
        method,
        url,
        headers=headers,
        data=body() if body is not None else None,
        allow_redirects=False,
        skip_auto_headers=NOT_ADDED,
    )


async def proxy(request: Request, project: str, name: str, path: str) -> Response:
    """Forward the request to the service and answer with what it answers: a small body with
    a length in one piece, anything else streamed as it comes."""
    try:
        addresses = await admit(request, project, name)
    except AssayError as exc:
        return assay_error_response(exc)
    scope = request.scope
    client: aiohttp.ClientSession = scope["app"].state.gateway
    headers = forwarded_headers(
        request.headers.items(),
        scope["client"][0] if scope.get("client") else "",
        scope["scheme"],
        request.headers.get("host", ""),
        prefix(project, name),
        NOT_FORWARDED,
    )
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    query = scope["query_string"].decode("latin-1")
    try:
        upstream = await send_to_replicas(
            client,
            scope["method"],
            addresses,
            lambda address: URL(_target(address, path, query), encoded=True),
            headers,
            request.stream if has_body else None,
        )
        length = upstream.content_length
        whole = length is not None and length <= WHOLE_BODY_BYTES
        response: Response = (
            Response(await upstream.read(), upstream.status)
            if whole
            else StreamingResponse(
                upstream.content.iter_any(), upstream.status, background=BackgroundTask(upstream.release)
            )
        )
    except (aiohttp.ClientError, OSError) as exc:
        # The service's address stays in the log: callers are told only that it did not answer.
        log.warning("service %s/%s did not answer: %r", project, name, exc)
        return error_response(502, f"service {name!r} did not answer: {type(exc).__name__}", "name")
    response.raw_headers = [(key, value) for key, value in upstream.raw_headers if _passed_back(key, value)]
    response.raw_headers.append((b"content-security-policy", SANDBOX))
    return response


class Gateway:
    """Serves the gateway's HTTP requests before the router: at a service's rate, routing
    through every route of the API and FastAPI's per-request machinery (dependencies, exit
    stacks) cost more than the forwarding itself. It sits inside the edge middlewares (app.py),
    so their checks and headers apply as to any route; WebSockets take the router's way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = PROXY_ROUTE.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        response = await proxy(Request(scope, receive), **found.groupdict())
        await response(scope, receive, send)


def _passed_back(name: bytes, value: bytes) -> bool:
    """Hop-by-hop headers stay on their connection, and a service never sets Assay's session
    cookie: it would sign the visitor in as an account of the service's choosing."""
    key = name.decode("latin-1").lower()
    if key in HOP_BY_HOP:
        return False
    return key != "set-cookie" or value.decode("latin-1").split("=", 1)[0].strip() != SESSION_COOKIE


# One route per method: each gets an operation of its own in the OpenAPI document, and the
# route census checks who gets through. ``Gateway`` serves them, with the same ``proxy``.
for _method in sorted(METHODS):
    router.add_api_route(
        "/{name}/proxy/{path:path}", proxy, methods=[_method], name=f"proxy_{_method.lower()}"
    )


def _authorize(runtime: Runtime, connection: HTTPConnection, project: str, name: str) -> tuple[str, ...]:
    """The caller, their role in the project and the service's ready replicas, in one session."""
    with runtime.session_factory() as session:
        user: UserRecord = Authenticator(session, runtime.settings).authenticate(read_credentials(connection))
        found = ProjectAccess(session, runtime.settings.default_project).require(user, project, Role.VIEWER)
        return ready_addresses(session, found.id, name)


class Admissions:
    """Who was let through to which service, and where it listens, for ``ADMISSION_TTL``
    seconds: a page of a service loads dozens of assets, and each would otherwise cost a token
    check, a membership check and a row read in the thread pool. The key is a digest of
    everything authentication reads (the credential headers and the peer's address, which
    decides the embedded mode's local admin); a revoked token, a removed member or a stopped
    service is noticed within the TTL. Callers with the same key that arrive while it is being
    looked up wait for that one lookup: when an entry expires under load, every request in
    flight would otherwise take a thread of its own for the same answer.
    Where it listens: its ready replicas; each request goes to the next one in turn (``pick``)."""

    def __init__(self, ttl: float = ADMISSION_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[bytes, str, str], tuple[float, tuple[str, ...]]] = {}
        self._turns: dict[tuple[str, str], int] = {}
        self._lookups: dict[tuple[bytes, str, str], asyncio.Future[tuple[str, ...]]] = {}

    @staticmethod
    def key(connection: HTTPConnection, project: str, name: str) -> tuple[bytes, str, str]:
        parts = (
            connection.headers.get("authorization", ""),
            connection.cookies.get(SESSION_COOKIE, ""),
            connection.client.host if connection.client else "",
        )
        return hashlib.sha256("\0".join(parts).encode()).digest(), project, name

    def get(self, key: tuple[bytes, str, str]) -> tuple[str, ...] | None:
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[bytes, str, str], addresses: tuple[str, ...]) -> None:
        if len(self._entries) >= ADMISSION_ENTRIES:
            self._entries.clear()
            self._turns.clear()
        self._entries[key] = (time.monotonic() + self.ttl, addresses)

    def pick(self, project: str, name: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
        """Round robin per service, whoever calls: one turn counter per service, not per
        admission, so that callers who each send a request now and then still spread. The
        replicas in the order to try them: this turn's first, then the others in turn."""
        turn = self._turns.get((project, name), 0)
        self._turns[project, name] = turn + 1
        first = turn % len(addresses)
        return addresses[first:] + addresses[:first]

    async def lookup(
        self, key: tuple[bytes, str, str], authorize: Callable[[], tuple[str, ...]]
    ) -> tuple[str, ...]:
        """``authorize()`` in the thread pool, once for all callers with this key at a time;
        its answer is kept, its error raised to each of them. A caller that goes away does not
        cancel it for the others."""
        pending = self._lookups.get(key)
        if pending is None:
            pending = asyncio.ensure_future(anyio.to_thread.run_sync(authorize))
            self._lookups[key] = pending
            pending.add_done_callback(partial(self._settle, key))
        return await asyncio.shield(pending)

    def _settle(self, key: tuple[bytes, str, str], done: asyncio.Future[tuple[str, ...]]) -> None:
        del self._lookups[key]
        if not done.cancelled() and done.exception() is None:
            self.put(key, done.result())


async def admit(connection: HTTPConnection, project: str, name: str) -> tuple[str, ...]:
    """The ready replicas' addresses, this request's turn first, if the caller may call the
    service (else its error)."""
    admissions: Admissions = connection.app.state.admissions
    key = admissions.key(connection, project, name)
    addresses = admissions.get(key)
    if addresses is None:
        runtime: Runtime = connection.app.state.runtime
        addresses = await admissions.lookup(key, partial(_authorize, runtime, connection, project, name))
    return admissions.pick(project, name, addresses)


def _same_origin(websocket: WebSocket) -> bool:
    """A page of another site may open a WebSocket with the browser's cookie (no CORS here):
    with an ambient credential the Origin must be this server's own."""
    origin = websocket.headers.get("origin")
    if origin is None or not is_ambient(websocket):
        return True
    return origin.split("://", 1)[-1].rstrip("/") == websocket.headers.get("host", "")


@router.websocket("/{name}/proxy/{path:path}")
async def proxy_websocket(websocket: WebSocket, project: str, name: str, path: str) -> None:
    """Relay a WebSocket both ways, message by message, until either side closes."""
    if not _same_origin(websocket):
        await _refuse(
            websocket, 403, "cross-site WebSocket refused: it comes from a page of another site", "Origin"
        )
        return
    try:
        addresses = await admit(websocket, project, name)
    except AssayError as exc:
        await _refuse(websocket, status_for(exc), exc.message, exc.field)
        return
    headers = forwarded_headers(
        websocket.headers.items(),
        websocket.client.host if websocket.client else "",
        "https" if websocket.url.scheme == "wss" else "http",
        websocket.headers.get("host", ""),
        prefix(project, name),
        NOT_FORWARDED | WEBSOCKET_OWN,
    )
    protocols = [
        item.strip()
        for item in websocket.headers.get("sec-websocket-protocol", "").split(",")
        if item.strip()
    ]
    upstream = await _open_websocket(
        ["ws" + _target(address, path, websocket.url.query)[len("http") :] for address in addresses],
        headers,
        [Subprotocol(item) for item in protocols],
    )
    if upstream is None:
        await websocket.close(code=1011, reason="the service refused the WebSocket")
        return
    async with upstream:
        await websocket.accept(subprotocol=upstream.subprotocol)
        await _relay(websocket, upstream)


async def _open_websocket(
    urls: list[str], headers: list[tuple[str, str]], protocols: list[Subprotocol]
) -> websockets.ClientConnection | None:
    """The first replica that takes the connection, as for HTTP: one that refuses it (an
    ``OSError``) is passed over; one that answers the handshake with a refusal is the answer."""
    for url in urls:
        try:
            return await websockets.connect(
                url,
                additional_headers=headers,
                subprotocols=protocols or None,
                max_size=None,
                open_timeout=CONNECT_TIMEOUT,
            )
        except OSError as exc:
            log.info("replica at %s refused the WebSocket connection (%r)", url, exc)
        except websockets.WebSocketException:
            return None
    return None


async def _refuse(websocket: WebSocket, status: int, detail: str, field: str | None) -> None:
    """The same refusal as over HTTP (a 404 for a non-member) where the server lets us answer
    the handshake with a response; a plain close (403) where it does not."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, detail, field))
    else:
        await websocket.close(code=1008, reason=detail[:120])


async def _relay(websocket: WebSocket, upstream: websockets.ClientConnection) -> None:
    async def inbound() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes")
                await upstream.send(data if data is not None else message.get("text", ""))

    async def outbound() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in upstream:
                if isinstance(data, bytes):
                    await websocket.send_bytes(data)
                else:
                    await websocket.send_text(data)

    tasks = [asyncio.create_task(inbound()), asyncio.create_task(outbound())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await websocket.close()
