"""The backend matrix and the settings of an app on one backend, shared by the test tiers.

A plain module (not ``conftest.py``) so that test modules import it as any other; the servers a
backend needs are the session fixtures of ``tests/conftest.py``, fetched through ``request``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.compute.local_ray import LocalRayHead
from assay.config import Settings
from tests.servers import SeaweedS3


@dataclass(frozen=True)
class Backend:
    database: str
    storage: str

    @property
    def id(self) -> str:
        return f"{self.database}-{self.storage}"


# The database and the object store do not reach each other (rows never name a store, a store
# never reads rows), so the diagonal covers the matrix that matters: every API test runs on
# both databases and on both stores, in two app sessions instead of four.
BACKENDS = [Backend("sqlite", "local"), Backend("postgresql", "s3")]
# For tests of what no backend changes (the engine side of services, the clients): the first.
one_backend = pytest.mark.parametrize("backend", [BACKENDS[0]], indirect=True, ids=[BACKENDS[0].id])


def make_settings(
    backend: Backend, home: Path, request: pytest.FixtureRequest, **overrides: object
) -> Settings:
    """Settings for one backend combination; PostgreSQL and S3 come from session fixtures."""
    head: LocalRayHead = request.getfixturevalue("ray_head")
    values: dict[str, object] = {
        "home": home,
        "cleanup_interval_seconds": 3600.0,
        "reconcile_interval_seconds": 0.3,
        "ray_address": head.dashboard_url,
        "ray_auth_token_file": head.token_path,
        "ray_python": sys.executable,
        # Test apps share one Ray head: a worker starts when a test's work needs one.
        "warm_pool_at_start": False,
        # The host name of FastAPI's in-process TestClient.
        "allowed_hosts": ["testserver"],
    }
    if backend.database == "postgresql":
        values["database_url"] = request.getfixturevalue("postgres_databases")()
    if backend.storage == "s3":
        s3: SeaweedS3 = request.getfixturevalue("seaweed")
        values.update(
            storage_url=f"s3://{s3.create_bucket()}",
            s3_endpoint_url=s3.endpoint_url,
            s3_access_key_id=s3.access_key,
            s3_secret_access_key=s3.secret_key,
        )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
