"""An in-process app per backend combination, with tables and objects emptied between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from assay.api.app import create_app
from assay.records import (
    DatasetRecord,
    ExperimentRecord,
    JobRecord,
    ObjectCleanupRecord,
    SecretRecord,
    TrackingLinkRecord,
    TrackingOutboxRecord,
    WorkflowRecord,
)
from assay.runtime import Runtime
from tests.conftest import Backend, make_settings


@pytest.fixture(scope="session")
def app_client(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    settings = make_settings(backend, tmp_path_factory.mktemp(f"home-{backend.id}"), request)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def runtime(app_client: TestClient) -> Runtime:
    return app_client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def client(app_client: TestClient, runtime: Runtime) -> Iterator[TestClient]:
    yield app_client
    with runtime.session_factory() as session:
        for record in (
            WorkflowRecord,
            ExperimentRecord,
            JobRecord,
            DatasetRecord,
            SecretRecord,
            ObjectCleanupRecord,
            TrackingOutboxRecord,
            TrackingLinkRecord,
        ):
            session.execute(delete(record))
        session.commit()
    runtime.store.delete_prefix("projects/")
