"""The Assay Python SDK: ``Client`` (sync) and ``AsyncClient`` over the native HTTP API.

    from assay.client import Client

    with Client() as client:  # ASSAY_URL / ASSAY_TOKEN / ASSAY_PROJECT, or `assay login`
        dataset = client.datasets.upload("news.csv")
        for job in client.jobs.list():
            print(job.name, job.status)

Importing it loads the HTTP schemas and httpx, never the server (FastAPI, SQLAlchemy).
"""

from assay.client.client import AsyncClient, Client
from assay.client.config import Connection, forget_login, login_path, resolve, save_login
from assay.client.errors import (
    APIError,
    AssayClientError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailed,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    TooManyRequestsError,
    UnavailableError,
)
from assay.client.tables import Progress, TableSource, content_hash
from assay.client.transport import RetryPolicy

__all__ = [
    "APIError",
    "AssayClientError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "Connection",
    "ConnectionFailed",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "RetryPolicy",
    "TableSource",
    "TooManyRequestsError",
    "UnavailableError",
    "content_hash",
    "forget_login",
    "login_path",
    "resolve",
    "save_login",
]
