"""The HTTP protocol ``assay serve`` runs: uvicorn's ``httptools`` one, with the request head
bounded.

``httptools`` (llhttp, in C) parses several times faster than ``h11``, which matters for the
gateway (docs/services.md), but it keeps a head of any size in memory while it arrives. This
counts what a head has taken so far, without parsing anything itself, and cuts the connection
off with a 400 once that passes the bound: heads between ``ASSAY_MAX_HEADER_BYTES`` and the
bound get the app's 431 (api/edge.py), larger ones never reach it.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TOO_LARGE = "Request head too large."


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """At most ``head_limit`` bytes (plus one read) are buffered before a head is complete."""

    head_limit = 0  # set by ``bounded(...)``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # received since the current head began, while it is incomplete
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head:
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.head_limit and not self.transport.is_closing():
            self.send_400_response(HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True


def bounded(head_limit: int) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=`` (a class: uvicorn makes one per connection)."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"head_limit": head_limit})
