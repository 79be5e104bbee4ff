"""Session-wide real servers (SeaweedFS, a PostgreSQL database) and the backend matrix.

Each server starts once per test session; every API test runs on each database (SQLite,
PostgreSQL) and on each object store (local folder, SeaweedFS S3), as ``tests.backends`` pairs
them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from assay.compute.local_ray import LocalRayHead
from tests.backends import BACKENDS, Backend
from tests.servers import REPOSITORY, MlflowServer, PostgresDatabase, SeaweedS3

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Jobs import the plug-ins of tests/plugins by module path, as a worker imports an installed
# package: the Ray head started for the tests passes PYTHONPATH on to them.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))


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


@pytest.fixture(scope="session", params=BACKENDS, ids=lambda backend: backend.id)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]
