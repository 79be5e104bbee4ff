"""Keeps the credentials that some URLs carry out of the access log.

A signed download link (``/api/v1/objects?…&signature=``) is its own credential for as long
as it is valid, like a presigned S3 URL; uvicorn's access log would write it out whole.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
CREDENTIAL_PARAMETERS = ("signature", "token", "access_token", "x-amz-signature", "x-amz-credential")
REDACTED = "***"
_CREDENTIALS = re.compile(
    r"(?P<name>[?&](?:" + "|".join(CREDENTIAL_PARAMETERS) + r")=)[^&#\s]*", re.IGNORECASE
)
# uvicorn's access records: (client address, method, path with query, HTTP version, status).
_PATH_ARGUMENT = 2


def redact_url(url: str) -> str:
    return _CREDENTIALS.sub(lambda match: match.group("name") + REDACTED, url)


class RedactUrlCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARGUMENT:
            path = args[_PATH_ARGUMENT]
            if isinstance(path, str):
                record.args = (*args[:_PATH_ARGUMENT], redact_url(path), *args[_PATH_ARGUMENT + 1 :])
        return True


def redact_access_log() -> None:
    """Add the filter to uvicorn's access logger (once; uvicorn's logging setup keeps it)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactUrlCredentials) for existing in logger.filters):
        logger.addFilter(RedactUrlCredentials())
