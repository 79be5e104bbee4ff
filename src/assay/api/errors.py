"""The single mapping from domain errors to HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from assay import errors

STATUS_BY_ERROR: dict[type[errors.AssayError], int] = {
    errors.NotFoundError: 404,
    errors.InvalidInputError: 422,
    errors.UnsupportedError: 400,
    errors.ConflictError: 409,
    errors.TooLargeError: 413,
    errors.StorageUnavailableError: 503,
}


def status_for(error: errors.AssayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


async def _handle_assay_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AssayError)
    body: dict[str, object] = {"detail": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    return JSONResponse(status_code=status_for(exc), content=body)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.AssayError, _handle_assay_error)
