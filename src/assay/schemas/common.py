from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT")


class ListingResponse(BaseModel, Generic[ItemT]):
    total: int
    items: list[ItemT]


class ErrorResponse(BaseModel):
    """A refused request: what is wrong, and the input at fault where there is one."""

    detail: str
    field: str | None = Field(default=None, description="the input at fault (absent when none is)")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where the input is: its part (path, query, body...) and name")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """Parameters or a body that do not fit their declared types (the input is not echoed)."""

    detail: list[ValidationIssue]
