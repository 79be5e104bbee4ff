"""The gateway: ``/api/v1/projects/{project}/services/{name}/proxy/{path}`` forwards HTTP and
WebSocket to a running service's private address, with Assay's own authentication and roles
(viewers may call; a non-member sees 404).

Bodies stream both ways (``httpx`` with one pooled client per app; nothing is buffered, so
server-sent events and large uploads pass as they come); WebSockets are relayed with the
``websockets`` package. Assay's credentials (the Authorization header and the session cookie)
never reach the service; ``X-Forwarded-For/-Proto/-Host`` and ``X-Forwarded-Prefix`` tell it
where it is served, so that it can build its links.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from http.cookies import SimpleCookie

import anyio
import httpx
import websockets
from fastapi import APIRouter, Request, WebSocket
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocketDisconnect
from websockets.typing import Subprotocol

from assay.api.credentials import SESSION_COOKIE, is_ambient, read_credentials
from assay.api.deps import CurrentUser, ProjectAccessDep, SessionDep
from assay.api.errors import error_response, status_for
from assay.errors import AssayError, NotFoundError, ServiceNotRunningError
from assay.records import ProjectRecord, Role, ServiceStatus, UserRecord
from assay.repositories.services import ServiceRepository
from assay.runtime import Runtime
from assay.services.auth import Authenticator
from assay.services.projects import ProjectAccess

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
router = APIRouter()


def new_client() -> httpx.AsyncClient:
    """One per app: its pool keeps connections to the services alive between requests. No read
    timeout: a stream of events may stay quiet for long."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    return httpx.AsyncClient(timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT), limits=limits)


def prefix(project: str, name: str) -> str:
    return f"{API}/projects/{project}/services/{name}/proxy"


def running_address(session: Session, project: ProjectRecord, name: str) -> str:
    service = ServiceRepository(session).get(project.id, name)
    if service is None:
        raise NotFoundError(f"service {name!r} not found", field="name")
    if service.status != ServiceStatus.RUNNING or service.address is None:
        raise ServiceNotRunningError(f"service {name!r} is {service.status}, not running", field="name")
    return service.address


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


async def proxy(
    request: Request,
    name: str,
    path: str,
    user: CurrentUser,
    access: ProjectAccessDep,
    session: SessionDep,
    project: str,
) -> Response:
    """Forward the request to the service and stream its answer back, as it comes."""

    def resolve() -> str:
        found = access.require(user, project, Role.VIEWER)
        return running_address(session, found, name)

    address = await anyio.to_thread.run_sync(resolve)
    client: httpx.AsyncClient = request.app.state.gateway
    headers = forwarded_headers(
        request.headers.items(),
        request.client.host if request.client else "",
        request.url.scheme,
        request.headers.get("host", ""),
        prefix(project, name),
        NOT_FORWARDED,
    )
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    outgoing = client.build_request(
        request.method,
        _target(address, path, request.url.query),
        headers=headers,
        content=request.stream() if has_body else None,
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        return error_response(502, f"service {name!r} did not answer: {type(exc).__name__}", "name")
    response = StreamingResponse(
        upstream.aiter_raw(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
    )
    response.raw_headers = [
        (key, value) for key, value in upstream.headers.raw if key.decode("latin-1").lower() not in HOP_BY_HOP
    ]
    return response


# One route per method: each gets an operation of its own in the OpenAPI document.
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    router.add_api_route(
        "/{name}/proxy/{path:path}", proxy, methods=[_method], name=f"proxy_{_method.lower()}"
    )


def _authorize_websocket(runtime: Runtime, websocket: WebSocket, project: str, name: str) -> str:
    with runtime.session_factory() as session:
        user: UserRecord = Authenticator(session, runtime.settings).authenticate(read_credentials(websocket))
        found = ProjectAccess(session, runtime.settings.default_project).require(user, project, Role.VIEWER)
        return running_address(session, found, name)


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
    runtime: Runtime = websocket.app.state.runtime
    if not _same_origin(websocket):
        await _refuse(
            websocket, 403, "cross-site WebSocket refused: it comes from a page of another site", "Origin"
        )
        return
    try:
        address = await anyio.to_thread.run_sync(_authorize_websocket, runtime, websocket, project, name)
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
    url = "ws" + _target(address, path, websocket.url.query)[len("http") :]
    try:
        upstream = await websockets.connect(
            url,
            additional_headers=headers,
            subprotocols=[Subprotocol(item) for item in protocols] or None,
            max_size=None,
            open_timeout=CONNECT_TIMEOUT,
        )
    except (OSError, websockets.WebSocketException):
        await websocket.close(code=1011, reason="the service refused the WebSocket")
        return
    async with upstream:
        await websocket.accept(subprotocol=upstream.subprotocol)
        await _relay(websocket, upstream)


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
