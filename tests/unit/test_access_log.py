"""Credentials carried in URLs never reach the access log."""

from __future__ import annotations

import logging

from assay.api.access_log import RedactUrlCredentials, redact_url


def test_credential_parameters_are_masked_and_the_rest_kept() -> None:
    url = "/api/v1/objects?key=a%2Fb.csv&filename=b.csv&expires=99&signature=abc123"
    assert redact_url(url) == "/api/v1/objects?key=a%2Fb.csv&filename=b.csv&expires=99&signature=***"
    presigned = "/x?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ff00&token=t&x=signature"
    assert redact_url(presigned) == "/x?X-Amz-Credential=***&X-Amz-Signature=***&token=***&x=signature"
    assert redact_url("/api/v1/datasets/?skip=0") == "/api/v1/datasets/?skip=0"


def test_the_filter_rewrites_uvicorn_access_records() -> None:
    args = ("127.0.0.1:5000", "GET", "/api/v1/objects?signature=secret", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)
    assert RedactUrlCredentials().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/v1/objects?signature=*** HTTP/1.1" 200'
