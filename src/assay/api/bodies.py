"""JSON bodies read whatever the Content-Type says.

Lumigator's SDK sends some JSON bodies with no Content-Type header; FastAPI's body parameters
would refuse them, so those routes read the body through this dependency instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
COMPONENT_REF = "#/components/schemas/{model}"


def lenient_json(model: type[ModelT]) -> Callable[[Request], Awaitable[ModelT]]:
    async def read(request: Request) -> ModelT:
        raw = await request.body()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from exc

    return read


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI text for a route whose body comes from ``lenient_json``; the nested models'
    ``$defs`` move to the document's components (``install_openapi``), where the references
    point."""
    schema = model.model_json_schema(ref_template=COMPONENT_REF)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
