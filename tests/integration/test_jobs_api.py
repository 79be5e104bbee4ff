"""Jobs on a real Ray cluster through the API: states, logs, stop, validation."""

from __future__ import annotations

import sys
import uuid

import pytest
from fastapi.testclient import TestClient

from assay.compute.local_ray import LocalRayHead
from tests.helpers import csv_bytes
from tests.integration.jobs_helpers import script_job, wait_for_status

pytestmark = pytest.mark.slow
API = "/api/v1"
TRICKY = 'it\'s "quoted"\nand on two lines; $HOME `x`'


@pytest.fixture(autouse=True)
def _ray(ray_head: LocalRayHead) -> None:
    ray_head.ensure_started()


def test_script_job_runs_with_its_env_and_keeps_logs(client: TestClient) -> None:
    code = "import os, sys; print('argv:', sys.argv[1]); print('env:', os.environ['GREETING'])"
    job = script_job(client, "hello", [sys.executable, "-c", code, TRICKY], env={"GREETING": TRICKY})
    assert job["status"] == "created"

    finished = wait_for_status(client, job["id"])
    assert finished["status"] == "succeeded", finished
    assert finished["start_time"] and finished["end_time"]
    logs = client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]
    assert f"argv: {TRICKY}" in logs
    assert f"env: {TRICKY}" in logs, logs

    native = client.get(f"{API}/projects/default/jobs/{job['id']}").json()
    assert native["project_id"] == "default"
    assert native["metadata"]["assay.engine_name"] == f"assay-default-hello-{job['id'].replace('-', '')[:8]}"


def test_failing_job_ends_failed_and_keeps_its_logs(client: TestClient) -> None:
    code = "print('about to fail'); raise SystemExit(3)"
    job = script_job(client, "boom", [sys.executable, "-c", code])
    finished = wait_for_status(client, job["id"])
    assert finished["status"] == "failed"
    assert finished["message"]
    assert "about to fail" in client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]


def test_stop_a_running_job(client: TestClient) -> None:
    job = script_job(
        client, "sleeper", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(300)"]
    )
    wait_for_status(client, job["id"], {"running"})
    assert client.put(f"{API}/jobs/{job['id']}/stop").status_code == 200
    assert wait_for_status(client, job["id"])["status"] == "stopped"


def test_listing_filters_and_pages(client: TestClient) -> None:
    ids = [script_job(client, f"j{i}", [sys.executable, "-c", "pass"])["id"] for i in range(3)]
    listing = client.get(f"{API}/jobs/", params={"job_types": "script", "limit": 2}).json()
    assert listing["total"] == 3 and len(listing["items"]) == 2
    assert client.get(f"{API}/jobs", params={"job_types": "inference"}).json()["total"] == 0
    assert client.get(f"{API}/jobs").json()["total"] == 0, "Lumigator's listing shows only its own kinds"
    assert client.get(f"{API}/projects/default/jobs").json()["total"] == 3
    bad = client.get(f"{API}/jobs", params={"job_types": "nonsense"})
    assert bad.status_code == 422 and "valid:" in bad.json()["detail"]
    for job_id in ids:
        wait_for_status(client, job_id)


def test_job_requests_are_validated(client: TestClient) -> None:
    inference = {
        "name": "inf",
        "dataset": str(uuid.uuid4()),
        "job_config": {"job_type": "inference", "model": "m", "provider": "openai"},
    }
    missing = client.post(f"{API}/jobs/inference/", json=inference)
    assert missing.status_code == 422 and missing.json()["field"] == "dataset"

    mismatch = client.post(f"{API}/jobs/evaluator/", json=inference)
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "job_config.job_type"

    dataset_id = client.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]
    evaluation = {"name": "ev", "dataset": dataset_id, "job_config": {"job_type": "evaluator"}}
    no_predictions = client.post(f"{API}/jobs/evaluator/", json=evaluation)
    assert no_predictions.status_code == 422 and "predictions" in no_predictions.json()["detail"]

    with_secret = {**inference, "dataset": dataset_id}
    with_secret["job_config"] = {**inference["job_config"], "secret_key_name": "missing_key"}
    unknown_secret = client.post(f"{API}/jobs/inference/", json=with_secret)
    assert (
        unknown_secret.status_code == 422 and unknown_secret.json()["field"] == "job_config.secret_key_name"
    )

    no_argv = client.post(
        f"{API}/jobs/script", json={"name": "s", "job_config": {"job_type": "script", "argv": []}}
    )
    assert no_argv.status_code == 422 and "argv" in no_argv.text
    assert client.get(f"{API}/projects/default/jobs").json()["total"] == 0
