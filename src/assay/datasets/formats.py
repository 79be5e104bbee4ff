"""The upload formats Assay accepts, recognised by file name."""

from __future__ import annotations

from pathlib import PurePath

from assay.errors import InvalidInputError

EXTENSIONS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def detect_format(filename: str) -> str | None:
    """The format named by the extension; ``None`` when there is no extension (sniff it)."""
    suffix = PurePath(filename).suffix.lower()
    if not suffix:
        return None
    if suffix not in EXTENSIONS:
        accepted = ", ".join(sorted(EXTENSIONS))
        raise InvalidInputError(
            f"file name {filename!r} has no supported extension (accepted: {accepted})", field="dataset"
        )
    return EXTENSIONS[suffix]


def with_extension(filename: str, source_format: str) -> str:
    """``filename`` itself if it has an extension, else with the format's usual one added."""
    if PurePath(filename).suffix:
        return filename
    return f"{filename}.{source_format}"


def safe_filename(filename: str) -> str:
    """The base name only, without path parts or control characters, for keys and headers."""
    name = PurePath(filename.replace("\\", "/")).name
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"/')
    return cleaned[:200] or "dataset"


def sniff_format(head: bytes) -> str:
    """Guess the format of an upload without an extension from its first bytes."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"
