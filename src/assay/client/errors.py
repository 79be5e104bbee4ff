"""What the client raises: the server's refusal (status, the input at fault, its message) as
an exception, or a connection that could not be made or was lost."""

from __future__ import annotations

from typing import Any

import httpx


class AssayClientError(Exception):
    """Everything the client raises on purpose."""


class ConnectionFailed(AssayClientError):
    """The server could not be reached, or the connection broke (after the retries allowed)."""


class APIError(AssayClientError):
    """The server refused a request. ``field`` names the input at fault where it said so."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        where = f" ({field})" if field else ""
        super().__init__(f"{status}: {message}{where}")


class BadRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class InvalidInputError(APIError):
    pass


class TooManyRequestsError(APIError):
    pass


class UnavailableError(APIError):
    pass


ERROR_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
    429: TooManyRequestsError,
    503: UnavailableError,
}


def _validation_issue(issues: list[Any]) -> tuple[str, str | None]:
    """FastAPI's 422 list: the first issue's message, and its input's name without the part
    (``["body", "name"]`` → ``name``)."""
    first = issues[0] if isinstance(issues[0], dict) else {}
    location = [str(part) for part in first.get("loc", [])[1:]]
    return str(first.get("msg", "invalid input")), ".".join(location) or None


def error_from(response: httpx.Response) -> APIError:
    """The server's error body (``{"detail": ..., "field": ...}``, see ``assay.api.errors``)
    as an exception of the class for its status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    field: str | None = None
    if isinstance(detail, list) and detail:
        message, field = _validation_issue(detail)
    elif isinstance(detail, str):
        message, field = detail, body.get("field") if isinstance(body, dict) else None
    else:
        message = response.text[:500] or response.reason_phrase
    cls = ERROR_BY_STATUS.get(response.status_code, APIError)
    return cls(response.status_code, message, field)
