"""The OpenAPI document: error responses declared once, and hand-written bodies made whole.

Every status a route may answer with is documented with the body it really has, so that
clients (and the schema fuzzing in CI) can rely on the document: domain errors carry
``ErrorResponse``, and 422 is either that (a value the service refused) or FastAPI's
``ValidationErrorResponse`` (a parameter that does not fit its type).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from assay.schemas.common import ErrorResponse, ValidationErrorResponse

DESCRIPTIONS = {
    400: "The request is malformed (a body that cannot be parsed) or names something unsupported",
    401: "Credentials are missing, wrong, expired or revoked",
    403: "The caller's role does not allow this",
    404: "No such resource, or the caller may not know of it",
    409: "The request clashes with the current state",
    413: "The body exceeds a configured size limit",
    415: "The body's media type is not one this route reads",
    422: "A parameter or body that does not fit its type, or a value the service refuses",
    429: "Too many attempts; Retry-After says when to come back",
    431: "The request's headers are too large",
    503: "The object store or database cannot be reached",
}
# What a route behind sign-in may answer besides its success, whatever it does.
SIGNED_IN_ERRORS = (400, 401, 403, 404, 409, 415, 422, 431, 503)
# What a public route may answer: anything reaches the app through the same edge.
PUBLIC_ERRORS = (400, 403, 415, 422, 431)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of these statuses, each with the body the app sends."""
    return {
        status: {
            "description": DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "model": ErrorResponse | ValidationErrorResponse if status == 422 else ErrorResponse,
        }
        for status in statuses
    }


def install_openapi(app: FastAPI) -> None:
    """Hand-written request bodies (``openapi_extra``) hold their models' ``$defs``, which
    OpenAPI does not resolve in place: they move to ``components/schemas``, where their
    references (``ref_template`` of ``json_body_doc``) point."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for operation in _operations(document):
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    _hoist_defs(media.get("schema", {}), components)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in document.get("paths", {}).values() for operation in path.values()]


def _hoist_defs(schema: dict[str, Any], components: dict[str, Any]) -> None:
    for name, definition in schema.pop("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both named {name!r} in the OpenAPI document")
