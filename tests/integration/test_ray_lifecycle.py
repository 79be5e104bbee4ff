"""Ray restarted under a running job, and the Ray head that embedded mode starts for itself."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.compute.local_ray import LocalRayHead
from assay.compute.ray import RayCompute
from assay.services.reconciler import LOST_REASON
from assay.services.warm_pool import GONE_REASON
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.jobs_helpers import script_job, wait_for_status
from tests.openai_server import OpenAIServer
from tests.serving import served_app

pytestmark = pytest.mark.slow
SLEEPER = [sys.executable, "-c", "import time; print('working', flush=True); time.sleep(600)"]


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(Backend("sqlite", "local"), tmp_path, request)
    with served_app(settings) as client:
        yield client


def test_job_fails_with_a_clear_reason_when_ray_restarts(app: TestClient, ray_head: LocalRayHead) -> None:
    ray_head.ensure_started()
    job = script_job(app, "long", SLEEPER)
    wait_for_status(app, job["id"], {"running"})

    ray_head.stop()
    listing = app.get("/api/v1/projects/default/jobs")
    assert listing.status_code == 200 and listing.json()["items"][0]["status"] == "running"

    ray_head.ensure_started()
    finished = wait_for_status(app, job["id"])
    assert finished["status"] == "failed"
    assert finished["message"] == LOST_REASON
    assert app.get("/api/v1/projects/default/jobs").json()["total"] == 1


def test_a_built_in_job_in_the_warm_worker_fails_as_lost_when_ray_restarts_and_the_next_runs(
    app: TestClient, ray_head: LocalRayHead
) -> None:
    ray_head.ensure_started()
    dataset = app.post("/api/v1/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]
    provider = OpenAIServer(latency_s=10.0).start()
    try:
        slow = {
            "provider": "openai-compatible",
            "model": "m",
            "base_url": provider.base_url,
            "max_concurrency": 1,
        }
        job = _inference(app, dataset, slow)
        wait_for_status(app, job, {"running"})
        ray_head.stop()
        ray_head.ensure_started()
        finished = wait_for_status(app, job)
    finally:
        provider.stop()
    assert finished["status"] == "failed"
    assert finished["message"] == GONE_REASON
    again = wait_for_status(app, _inference(app, dataset, {"provider": "mock", "model": "{prompt}"}))
    assert again["status"] == "succeeded", again.get("message")


def _inference(app: TestClient, dataset: str, config: dict[str, object]) -> str:
    body = {"name": "pooled", "dataset": dataset, "job_config": {"job_type": "inference", **config}}
    created = app.post("/api/v1/jobs/inference/", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_embedded_mode_starts_and_stops_its_own_ray_head(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = make_settings(Backend("sqlite", "local"), tmp_path, request, ray_address=None)
    with served_app(settings) as client:
        compute = client.app.state.runtime.clusters.default  # type: ignore[attr-defined]
        assert isinstance(compute, RayCompute)
        job = script_job(client, "embedded", [sys.executable, "-c", "print('inside embedded ray')"])
        assert wait_for_status(client, job["id"])["status"] == "succeeded"
        assert "inside embedded ray" in client.get(f"/api/v1/jobs/{job['id']}/logs").json()["logs"]
        head = compute._local
        assert head is not None and head.running
    assert not head.running
