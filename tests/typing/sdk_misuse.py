"""Mistakes ``mypy --strict`` must report (tests/unit/test_sdk_typing.py): an int where a str
is wanted, and an async result used without ``await``."""

from __future__ import annotations

from assay.client import AsyncClient, Client


async def misuse() -> None:
    count: str = Client().datasets.get("x").row_count
    pending = AsyncClient().datasets.get("x")
    print(count, pending.row_count)
