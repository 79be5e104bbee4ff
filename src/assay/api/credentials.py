"""Reading credentials off an HTTP request, and the session cookie that carries web logins.

Accepted, in this order: ``Authorization: Bearer <token>``; ``Authorization: Basic`` with the
user name and a token as password (what ``requests`` sends for ``http://user:token@host/``
URLs, as lumigator-sdk builds them); the ``assay_session`` cookie set by the login route.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from assay.errors import AuthenticationError
from assay.records import TokenKind
from assay.services.auth import Credentials

SESSION_COOKIE = "assay_session"


def read_credentials(request: HTTPConnection) -> Credentials | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return Credentials(secret=value.strip())
        if scheme.lower() == "basic":
            return _basic(value.strip())
        raise AuthenticationError("the Authorization header must be 'Bearer <token>' or HTTP Basic")
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        return Credentials(secret=session_id, kind=TokenKind.SESSION)
    return None


def read_bearer(request: Request) -> str:
    """The ``Authorization: Bearer`` token, the only credential a job presents."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("a job credential is required: 'Authorization: Bearer <token>'")
    return value.strip()


def is_ambient(request: HTTPConnection) -> bool:
    """Whether the request's authority is one a browser attaches on its own, so a page of any
    site could make it: the session cookie, HTTP Basic credentials (browsers replay those a
    user once typed for the server), or nothing at all (the local admin on loopback). Only a
    Bearer token is always put there by the caller itself."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    return not (scheme.lower() == "bearer" and value.strip())


def _basic(value: str) -> Credentials:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("malformed HTTP Basic credentials") from None
    username, separator, token = decoded.partition(":")
    if not separator or not username or not token:
        raise AuthenticationError("HTTP Basic credentials need a user name and an API token as password")
    return Credentials(secret=token, username=username)


def set_session_cookie(response: Response, session_id: str, max_age: int, secure: bool) -> None:
    """HttpOnly keeps scripts from reading it; SameSite=Lax keeps other sites from sending it
    with their forms' POSTs."""
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", path="/")
