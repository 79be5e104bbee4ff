"""An in-process app per backend combination, with tables and objects emptied between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from assay.records import (
    AuditEventRecord,
    DatasetRecord,
    ExperimentRecord,
    FileRecord,
    JobCredentialRecord,
    JobRecord,
    LoginFailureRecord,
    MemberRecord,
    ObjectCleanupRecord,
    ProjectRecord,
    SecretRecord,
    TokenRecord,
    TrackingLinkRecord,
    TrackingOutboxRecord,
    UserRecord,
    WorkflowRecord,
)
from assay.runtime import Runtime
from tests.conftest import Backend, make_settings
from tests.serving import served_app


@pytest.fixture(scope="session")
def app_client(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    settings = make_settings(backend, tmp_path_factory.mktemp(f"home-{backend.id}"), request)
    with served_app(settings) as client:
        yield client


@pytest.fixture
def runtime(app_client: TestClient) -> Runtime:
    return app_client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


PER_TEST_TABLES = (
    WorkflowRecord,
    ExperimentRecord,
    JobCredentialRecord,
    JobRecord,
    DatasetRecord,
    FileRecord,
    SecretRecord,
    MemberRecord,
    TokenRecord,
    AuditEventRecord,
    LoginFailureRecord,
    ObjectCleanupRecord,
    TrackingOutboxRecord,
    TrackingLinkRecord,
)


@pytest.fixture
def client(app_client: TestClient, runtime: Runtime) -> Iterator[TestClient]:
    """The app as the first start leaves it: the default project, the admin and nothing else."""
    yield app_client
    app_client.cookies.clear()
    settings = runtime.settings
    with runtime.session_factory() as session:
        for record in PER_TEST_TABLES:
            session.execute(delete(record))
        session.execute(delete(UserRecord).where(UserRecord.username != settings.admin_username))
        session.execute(delete(ProjectRecord).where(ProjectRecord.id != settings.default_project))
        session.execute(
            update(UserRecord).values(
                default_project_id=settings.default_project, password_hash=None, is_admin=True
            )
        )
        session.commit()
    runtime.store.delete_prefix("projects/")
