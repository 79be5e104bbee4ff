"""Session-wide real servers (SeaweedFS, a PostgreSQL database) and the backend matrix.

Each server starts once per test session; every API test runs against each combination of
database (SQLite, PostgreSQL) and object store (local folder, SeaweedFS S3).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.compute.local_ray import LocalRayHead
from assay.config import Settings
from assay.testing.servers import MlflowServer, PostgresDatabase, SeaweedS3

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Jobs import the plug-ins of tests/plugins by module path, as a worker imports an installed
# package: the Ray head started for the tests passes PYTHONPATH on to them.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])
)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayHead]:
    """One Ray cluster for the session, started by the first test that calls
    ``ensure_started()``; apps reach it by address, as production reaches an existing cluster."""
    head = LocalRayHead(tmp_path_factory.mktemp("ray"), num_cpus=2)
    yield head
    head.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Callable[[], str]]:
    """A new database for each app. Apps that shared one would run each other's jobs (every
    reconciler and warm pool acts on every row it sees) while keeping objects in stores of
    their own; replicas of one deployment share a database and a store alike."""
    created: list[PostgresDatabase] = []

    def new_database() -> str:
        created.append(PostgresDatabase().start())
        return created[-1].url

    yield new_database
    for database in created:
        database.stop()


@dataclass(frozen=True)
class Backend:
    database: str
    storage: str

    @property
    def id(self) -> str:
        return f"{self.database}-{self.storage}"


BACKENDS = [Backend(db, store) for db in ("sqlite", "postgresql") for store in ("local", "s3")]


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


@pytest.fixture(scope="session", params=BACKENDS, ids=lambda backend: backend.id)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]
