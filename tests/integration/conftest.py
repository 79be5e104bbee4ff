"""An in-process app per backend combination, with tables and objects emptied between tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError

from assay.records import (
    AuditEventRecord,
    DatasetRecord,
    DesiredState,
    ExperimentRecord,
    FileRecord,
    JobCredentialRecord,
    JobRecord,
    LoginFailureRecord,
    MemberRecord,
    ObjectCleanupRecord,
    ProjectRecord,
    SecretRecord,
    ServiceRecord,
    TokenRecord,
    TrackingLinkRecord,
    TrackingOutboxRecord,
    UserRecord,
    WorkflowRecord,
)
from assay.runtime import Runtime
from tests.backends import Backend, make_settings
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
    ServiceRecord,
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
    _retire_services(runtime)
    # The app's reconciler may still be moving the test's jobs and workflows: on PostgreSQL the
    # two transactions can deadlock, and then the cleanup simply runs again.
    for attempt in range(CLEANUP_ATTEMPTS):
        try:
            _reset(runtime)
            break
        except OperationalError:
            if attempt == CLEANUP_ATTEMPTS - 1:
                raise
            time.sleep(0.5)
    runtime.store.delete_prefix("projects/")


CLEANUP_ATTEMPTS = 5
SERVICE_RETIREMENT_SECONDS = 120


def _retire_services(runtime: Runtime) -> None:
    """A test's services go as users remove them: the app's reconciler stops each replica's
    process, then removes the row. Deleting the rows under a live service would leave its
    process holding the shared Ray head's CPUs, starving every later test's jobs."""
    with runtime.session_factory() as session:
        session.execute(update(ServiceRecord).values(desired=DesiredState.DELETED))
        session.commit()
    deadline = time.monotonic() + SERVICE_RETIREMENT_SECONDS
    while True:
        with runtime.session_factory() as session:
            left = session.scalar(select(func.count()).select_from(ServiceRecord))
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{left} services still stopping after {SERVICE_RETIREMENT_SECONDS}s")
        time.sleep(0.3)


def _reset(runtime: Runtime) -> None:
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


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stored login and no ASSAY_* client variables from the machine running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("ASSAY_URL", "ASSAY_TOKEN", "ASSAY_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
