"""A real SeaweedFS stopped and restarted under the API: no row without objects, no orphans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assay.api.app import create_app
from assay.records import DatasetRecord, ExperimentRecord, JobRecord, ObjectCleanupRecord, WorkflowRecord
from assay.records.base import utcnow
from assay.runtime import Runtime
from assay.services.cleanup import ObjectCleanupService
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.servers import SeaweedS3

pytestmark = pytest.mark.slow
API = "/api/v1"


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, SeaweedS3]]:
    server = SeaweedS3(tmp_path / "weed").start()
    backend = Backend(request.param, "local")
    settings = make_settings(
        backend,
        tmp_path / "home",
        request,
        storage_url=f"s3://{server.create_bucket()}",
        s3_endpoint_url=server.endpoint_url,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key,
    )
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        yield client, runtime, server
        with runtime.session_factory() as session:
            # The PostgreSQL database is shared by the session's apps: what refers to datasets
            # (left by other modules) goes first.
            for record in (WorkflowRecord, ExperimentRecord, JobRecord, DatasetRecord, ObjectCleanupRecord):
                session.query(record).delete()
            session.commit()
    server.stop()


def _cleanups(runtime: Runtime) -> list[str]:
    with runtime.session_factory() as session:
        return [cleanup.prefix for cleanup in session.scalars(select(ObjectCleanupRecord))]


def test_outage_leaves_no_dangling_rows_and_cleanup_catches_up(
    outage: tuple[TestClient, Runtime, SeaweedS3],
) -> None:
    client, runtime, server = outage
    kept = client.post(f"{API}/datasets/", files={"dataset": ("kept.csv", csv_bytes())}).json()["id"]

    server.stop()
    failed = client.post(f"{API}/datasets/", files={"dataset": ("down.csv", csv_bytes())})
    assert failed.status_code == 503
    assert "object storage failed" in failed.json()["detail"]
    health = client.get(f"{API}/health/")
    assert health.status_code == 503 and health.json()["checks"]["storage"]["status"] == "error"

    assert client.delete(f"{API}/datasets/{kept}").status_code == 204
    assert client.get(f"{API}/datasets").json()["total"] == 0
    pending = _cleanups(runtime)
    assert f"projects/default/datasets/{kept}/" in pending
    assert len(pending) == 2

    server.restart()
    later = utcnow() + dt.timedelta(hours=2)
    with runtime.session_factory() as session:
        assert ObjectCleanupService(session, runtime.store).sweep(now=later) == 2
    assert _cleanups(runtime) == []
    assert runtime.store.list("projects/") == []


def test_upload_interrupted_by_a_crash_is_swept_after_its_lease(
    outage: tuple[TestClient, Runtime, SeaweedS3],
) -> None:
    _, runtime, _ = outage
    prefix = "projects/default/datasets/crashed/"
    with runtime.session_factory() as session:
        service = ObjectCleanupService(session, runtime.store)
        service.cleanups.schedule(prefix, utcnow() + dt.timedelta(hours=1))
        session.commit()
        writer = runtime.store.open_writer(prefix + "original/half.csv")
        writer.write(b"examples\n")
        writer.commit()
        assert service.sweep() == 0
        assert len(runtime.store.list(prefix)) == 1
        assert service.sweep(now=utcnow() + dt.timedelta(hours=2)) == 1
    assert runtime.store.list(prefix) == []
