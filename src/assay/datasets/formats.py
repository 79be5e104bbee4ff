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


def detect_format(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        accepted = ", ".join(sorted(EXTENSIONS))
        raise InvalidInputError(
            f"file name {filename!r} has no supported extension (accepted: {accepted})", field="dataset"
        )
    return EXTENSIONS[suffix]


def safe_filename(filename: str) -> str:
    """The base name only, without path parts or control characters, for keys and headers."""
    name = PurePath(filename.replace("\\", "/")).name
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"/')
    return cleaned[:200] or "dataset"
