"""A streaming ``multipart/form-data`` reader: the file part is consumed as it arrives.

Starlette's form parser spools whole files to disk before the route runs; datasets can be
gigabytes, so uploads read the request body once, straight into storage and the parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from assay.errors import InvalidInputError, MalformedInputError

# The file part is handed on in blocks of at least this size, each joined once from the
# request's chunks and then passed by reference: to object storage (which sends a few of them
# as one part) and to the table parser (one Arrow batch per block). Small blocks keep the
# memory held by an upload small.
BLOCK_SIZE = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024


class MultipartUpload:
    """One file field of a multipart body plus its small text fields (``UploadSource``); the
    file part's name and declared ``Content-Type`` are known once ``open`` returns."""

    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes, file_field: str) -> None:
        self._stream = stream
        self._file_field = file_field
        try:
            self._parser = MultipartParser(boundary, self._callbacks())
        except FormParserError as exc:
            raise _malformed(exc, file_field) from exc
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._part_name: str | None = None
        self._in_file = False
        self._field_buffer = bytearray()
        self._file_pieces: list[bytes | memoryview] = []
        self._file_pending = 0
        self._file_done = False
        self._body_done = False
        self._fields: dict[str, str] = {}
        self.filename: str = ""
        self.content_type: str = ""

    @classmethod
    async def open(cls, request: Request, file_field: str) -> MultipartUpload:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise InvalidInputError("the upload must be sent as multipart/form-data", field=file_field)
        upload = cls(request.stream(), boundary, file_field)
        while not upload.filename and not upload._body_done:
            await upload._read_more()
        if not upload.filename:
            raise InvalidInputError(f"field '{file_field}' with a file is required", field=file_field)
        return upload

    def _callbacks(self) -> Any:
        return {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
        }

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._field_buffer.clear()

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._part_name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._in_file = self._part_name == self._file_field and filename is not None and not self.filename
        if self._in_file:
            self.filename = (filename or b"").decode("utf-8", "replace") or "upload"
            self.content_type = self._headers.get(b"content-type", b"").decode("latin-1").strip()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            if end <= start:
                return
            if type(data) is not bytes:
                self._file_pieces.append(bytes(data[start:end]))
            elif start == 0 and end == len(data):
                self._file_pieces.append(data)
            else:
                self._file_pieces.append(memoryview(data)[start:end])
            self._file_pending += end - start
            return
        if len(self._field_buffer) + end - start > MAX_FIELD_BYTES:
            raise InvalidInputError(f"form field '{self._part_name}' is too long", field=self._part_name)
        self._field_buffer += data[start:end]

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True
        elif self._part_name:
            self._fields[self._part_name] = self._field_buffer.decode("utf-8", "replace")

    async def _read_more(self) -> None:
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._body_done = True
            return
        if not chunk:
            self._body_done = True
            return
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise _malformed(exc, self._file_field) from exc

    def _take_block(self) -> bytes:
        """The next ``BLOCK_SIZE`` bytes of the file (or all that is left), joined into one
        block: the only copy they get, as the pieces are views of the request's chunks."""
        if self._file_pending <= BLOCK_SIZE:
            pieces, self._file_pieces = self._file_pieces, []
        else:
            count, size = 0, 0
            while size < BLOCK_SIZE:
                size += len(self._file_pieces[count])
                count += 1
            pieces, self._file_pieces = self._file_pieces[:count], self._file_pieces[count:]
            if size > BLOCK_SIZE:
                last = memoryview(pieces[-1])
                cut = len(last) - (size - BLOCK_SIZE)
                pieces[-1] = last[:cut]
                self._file_pieces.insert(0, last[cut:])
        block = b"".join(pieces)
        self._file_pending -= len(block)
        return block

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            ended = self._file_done or self._body_done
            if self._file_pending >= BLOCK_SIZE or (self._file_pending and ended):
                yield self._take_block()
                continue
            if self._file_done:
                return
            if self._body_done:
                raise InvalidInputError("the request body ended inside the file", field=self._file_field)
            await self._read_more()

    async def fields(self) -> dict[str, str]:
        """Every text field; reads the rest of the body (fields may follow the file)."""
        while not self._body_done:
            await self._read_more()
        self._file_pieces.clear()
        self._file_pending = 0
        return dict(self._fields)


def _malformed(exc: FormParserError, file_field: str) -> MalformedInputError:
    """python-multipart's own words name the fault: an overlong boundary or part header, a bare
    CR where a header line must end."""
    return MalformedInputError(f"the multipart body cannot be read: {exc}", field=file_field)
