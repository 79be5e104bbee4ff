"""The address clients reach the server at, for the links in responses.

Behind a reverse proxy the request's ``Host`` is the proxy's view (often without the public
port), so links built from it point elsewhere. ``ASSAY_PUBLIC_URL`` names the address outright.
Otherwise the ``X-Forwarded-*`` headers are applied, and only for connections from a trusted
proxy (``ASSAY_TRUSTED_PROXIES``), since anyone else could send them: uvicorn's own middleware
handles ``X-Forwarded-For`` and ``X-Forwarded-Proto``; ``X-Forwarded-Host``, which it ignores,
replaces ``Host``. ``assay serve`` turns uvicorn's proxy handling off so that this, which sees
the real peer address, is the only one.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assay.config import Settings


class TrustedProxyHeaders:
    """Applies ``X-Forwarded-Host/-Proto/-For`` of requests whose peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.networks = settings.trusted_proxy_networks
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts="*")  # type: ignore[arg-type]

    def _trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._trusted(scope):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        forwarded_host = next((value for name, value in headers if name == b"x-forwarded-host"), None)
        if forwarded_host:
            host = forwarded_host.split(b",")[0].strip()
            scope = {**scope, "headers": [(n, v) for n, v in headers if n != b"host"] + [(b"host", host)]}
        await self.forwarded(scope, receive, send)  # type: ignore[arg-type]


def public_base_url(request: Request, settings: Settings) -> str:
    """``scheme://host[:port]/`` of the API as its callers address it."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/"
    return str(request.base_url)
