"""The single mapping from domain errors to HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assay import errors

STATUS_BY_ERROR: dict[type[errors.AssayError], int] = {
    errors.NotFoundError: 404,
    errors.InvalidInputError: 422,
    errors.MalformedInputError: 400,
    errors.UnsupportedError: 400,
    errors.ConflictError: 409,
    errors.TooLargeError: 413,
    errors.UnavailableError: 503,
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
    errors.TooManyRequestsError: 429,
}
# Bearer only: a Basic challenge would make browsers open their own login dialog over the web
# UI. Clients that send Basic credentials (``user:token@host`` URLs) send them unasked.
AUTH_CHALLENGE = 'Bearer realm="assay"'


def status_for(error: errors.AssayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def headers_for(error: errors.AssayError) -> dict[str, str] | None:
    """The headers HTTP requires with some statuses (RFC 9110: 401 carries a challenge)."""
    if isinstance(error, errors.AuthenticationError):
        return {"WWW-Authenticate": AUTH_CHALLENGE}
    if isinstance(error, errors.TooManyRequestsError):
        return {"Retry-After": str(error.retry_after)}
    return None


def error_response(
    status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error shape: ``detail`` says what is wrong, ``field`` names the input at fault."""
    body: dict[str, object] = {"detail": detail}
    if field is not None:
        body["field"] = field
    return JSONResponse(status_code=status, content=body, headers=headers)


def detail_for(error: errors.AssayError) -> str:
    """The message, naming the unreachable service for a 503 (its own message may name only
    an endpoint or a key)."""
    if isinstance(error, errors.UnavailableError):
        return f"{error.summary}: {error.message}"
    return error.message


def assay_error_response(error: errors.AssayError) -> JSONResponse:
    return error_response(status_for(error), detail_for(error), error.field, headers_for(error))


async def _handle_assay_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AssayError)
    return assay_error_response(exc)


async def _handle_validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape (``loc``, ``msg``, ``type``) without echoing the input back: the
    input may be a secret value."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {key: value for key, value in error.items() if key in ("loc", "msg", "type")}
        for error in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.AssayError, _handle_assay_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
