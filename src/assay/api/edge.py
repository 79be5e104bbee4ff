"""The HTTP edge: checks every request passes before a route sees it, and the headers every
response carries.

They keep web pages of other sites, and pages on names that only resolve to this server (DNS
rebinding), from driving the API with what a browser attaches on its own: the session cookie,
or nothing at all where loopback callers act as the local admin. A refusal uses the API's
error shape (``detail``, ``field``) and echoes no header back (an origin only as parsed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.api.credentials import is_ambient
from assay.api.errors import error_response
from assay.config import Settings

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
ANY_HOST = "*"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers only browsers send, and which no page's script can set or remove.
BROWSER_MARKS = ("origin", "sec-fetch-mode", "sec-fetch-site")
UPLOAD_TYPE = "multipart/form-data"
# The internal job API stores objects as they are (Parquet, JSON lines); its callers are jobs
# with a Bearer job credential, never a browser.
RAW_BODY_PREFIX = "/api/v1/job/objects/"
# The gateway's paths: their bodies are the services' business (any type), and their path is
# passed on exactly as sent (a trailing slash included).
PROXY_PATH = re.compile(r"/api/v1/projects/[^/]+/services/[^/]+/proxy(/|$)")  # matched at the start
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    # Not ``no-referrer``: under it browsers send ``Origin: null`` with same-origin POSTs of
    # our own pages (the docs' "try it out"), which the origin check would then refuse.
    "Referrer-Policy": "same-origin",
}

Origin = tuple[str, str, int]


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    field: str


Guard = Callable[[Request], Refusal | None]


def _host_name(name: str) -> str:
    return name.strip().strip("[]").rstrip(".").lower()


def _origin_of(url: str) -> Origin | None:
    """``(scheme, host, port)`` of an http(s) URL or origin; None for anything else
    (including the ``null`` origin of sandboxed frames and local files)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, _host_name(parts.hostname), port or DEFAULT_PORTS[parts.scheme]


def header_size_guard(limit: int) -> Guard:
    """Bounds what reaches the app; ``assay serve`` also bounds the parser, so that a huge
    head is cut off before it is buffered at all."""

    def check(request: Request) -> Refusal | None:
        size = sum(len(name) + len(value) + 4 for name, value in request.headers.raw)
        if size <= limit:
            return None
        return Refusal(
            431,
            f"the request headers take {size} bytes; this server accepts {limit} (ASSAY_MAX_HEADER_BYTES)",
            "headers",
        )

    return check


def allowed_host_names(settings: Settings) -> frozenset[str] | None:
    """Loopback names, the address the server listens on when it is a concrete one, and
    ``ASSAY_ALLOWED_HOSTS``; None when that lists ``*`` (any name)."""
    names = {_host_name(name) for name in settings.allowed_hosts}
    if ANY_HOST in names:
        return None
    listen = _host_name(settings.host)
    if listen not in WILDCARD_ADDRESSES:
        names.add(listen)
    return frozenset(names | LOOPBACK_NAMES)


def host_guard(settings: Settings) -> Guard:
    """A page on ``attacker.example`` whose name is re-pointed at this machine (DNS rebinding)
    is same-origin with its own requests; only the Host header tells them apart."""
    allowed = allowed_host_names(settings)

    def check(request: Request) -> Refusal | None:
        if allowed is None:
            return None
        value = request.headers.get("host", "")
        name = _origin_of(f"http://{value}") if value and not any(c in value for c in "@/?#\\") else None
        if name is not None and name[1] in allowed:
            return None
        log.warning("refused a request for host %r", value[:200])
        return Refusal(
            400,
            "the Host header names a host this server does not answer to; "
            "add it to ASSAY_ALLOWED_HOSTS if clients reach the server by that name",
            "Host",
        )

    return check


def origin_guard(settings: Settings) -> Guard:
    """A state-changing request that acts with credentials the browser attached on its own
    must come from a page of this server (same scheme, host and port as the request) or of
    an origin in ``ASSAY_ALLOWED_ORIGINS``. Clients that are not browsers send no Origin."""
    allowed: set[Origin] = set()
    for value in settings.allowed_origins:
        origin = _origin_of(value)
        if origin is None:
            raise ValueError(f"ASSAY_ALLOWED_ORIGINS: {value!r} is not an origin (scheme://host[:port])")
        allowed.add(origin)

    def check(request: Request) -> Refusal | None:
        if request.method not in UNSAFE_METHODS or not is_ambient(request):
            return None
        headers = request.headers
        source = headers.get("origin")
        if source is None:
            site = headers.get("sec-fetch-site")
            if site in ("same-origin", "none"):
                return None
            source = headers.get("referer")
            if source is None and site is None:
                return None
        own = _origin_of(f"{request.scope.get('scheme', 'http')}://{headers.get('host', '')}")
        origin = _origin_of(source) if source is not None else None
        if origin is not None and (origin == own or origin in allowed):
            return None
        shown = "{}://{}:{}".format(*origin) if origin is not None else "an unknown origin"
        return Refusal(
            403,
            f"cross-site request refused: it comes from a page of {shown}, not of this server, "
            "and would act with credentials the browser adds on its own. Send an API token "
            "(Authorization: Bearer), or add the origin to ASSAY_ALLOWED_ORIGINS",
            "Origin",
        )

    return check


def _is_json(media_type: str) -> bool:
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def body_type_guard(request: Request) -> Refusal | None:
    """Bodies are JSON, or multipart for uploads. ``text/plain`` and form bodies are what
    pages of other sites can send without asking the server first (no CORS preflight).
    A body without a Content-Type is read as JSON from clients that are not browsers (the
    Lumigator SDK sends its JSON so); a browser can send one too, so from it, no."""
    headers = request.headers
    if request.method not in UNSAFE_METHODS or not _has_body(headers):
        return None
    if request.url.path.startswith(RAW_BODY_PREFIX) or PROXY_PATH.match(request.url.path):
        return None
    content_type = headers.get("content-type")
    if content_type is None:
        if not any(mark in headers for mark in BROWSER_MARKS):
            return None
        got = "none"
    else:
        media_type = parse_options_header(content_type)[0].decode("latin-1").lower()
        if _is_json(media_type) or media_type == UPLOAD_TYPE:
            return None
        got = media_type[:100] or "none"
    return Refusal(
        415,
        f"the request body must be sent as Content-Type: application/json "
        f"(multipart/form-data for uploads); got {got}",
        "Content-Type",
    )


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers


def edge_guards(settings: Settings) -> list[Guard]:
    """Cheapest and broadest first: size, then host, then origin, then body type."""
    return [
        header_size_guard(settings.max_header_bytes),
        host_guard(settings),
        origin_guard(settings),
        body_type_guard,
    ]


class EdgeGuard:
    def __init__(self, app: ASGIApp, guards: Sequence[Guard]) -> None:
        self.app = app
        self.guards = guards

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            for guard in self.guards:
                refusal = guard(request)
                if refusal is not None:
                    response = error_response(refusal.status, refusal.detail, refusal.field)
                    await response(scope, receive, send)
                    return
        elif scope["type"] == "websocket":
            # A handshake is a GET: the size and Host checks apply (the gateway's WebSockets);
            # a refused one is closed before it is accepted, which the server answers with 403.
            handshake = Request({**scope, "type": "http", "method": "GET"})
            if any(guard(handshake) is not None for guard in self.guards):
                await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response that does not set its own (the docs pages
    set a fuller Content-Security-Policy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
