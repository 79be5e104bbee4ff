from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

ItemT = TypeVar("ItemT")


class ListingResponse(BaseModel, Generic[ItemT]):
    total: int
    items: list[ItemT]
