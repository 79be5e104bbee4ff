"""A real MLflow server for the session, and a throwaway database holding only the tracking
tables, on SQLite and on PostgreSQL.

The tables are created with ``create_all`` here, in these tests only: the application's schema
comes from its Alembic migrations, which these tests do not exercise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session

from assay.db.engine import build_engine, build_session_factory
from assay.records import Base, TrackingLinkRecord, TrackingOutboxRecord
from assay.storage.local import LocalObjectStore
from assay.tracking.mlflow import MlflowTracker
from tests.servers import MlflowServer, PostgresDatabase

TABLES = [Base.metadata.tables[record.__tablename__] for record in (TrackingOutboxRecord, TrackingLinkRecord)]


@pytest.fixture(scope="session")
def tracking_postgres_url() -> Iterator[str]:
    """A database of its own: the app fixtures' database is built by migrations only."""
    database = PostgresDatabase().start()
    yield database.url
    database.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "postgresql":
        url = request.getfixturevalue("tracking_postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'assay.db'}"
    engine = build_engine(url)
    Base.metadata.create_all(engine, tables=TABLES)
    with build_session_factory(engine)() as session:
        yield session
    Base.metadata.drop_all(engine, tables=TABLES)
    engine.dispose()


@pytest.fixture
def tracker(mlflow_server: MlflowServer) -> MlflowTracker:
    return MlflowTracker(mlflow_server.tracking_uri)


@pytest.fixture
def mlflow_client(tracker: MlflowTracker) -> MlflowClient:
    """MLflow's own client, to check what a reader of the server sees."""
    return tracker.client


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def keys() -> str:
    """A prefix that keeps this test's experiments apart from the others' on the shared server."""
    return f"t{uuid.uuid4().hex[:10]}"
