"""A service evaluated like any model (the ``assay-service`` provider), on a real Ray head: an
``app`` service (the OpenAI-compatible ASGI app of ``tests/apps/openai_app.py``) answers an
experiment's workflow, whose predictions and scores land as any workflow's, and an inference
job; both reach it at its private address with no credential; a name that is not a service of
the job's own project is a 422 naming the field, the same for another project's service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assay.compute.local_ray import LocalRayHead
from tests.backends import one_backend
from tests.helpers import csv_bytes
from tests.integration.accounts import create_project
from tests.integration.jobs_helpers import wait_for_status, wait_workflow

pytestmark = pytest.mark.slow
API = "/api/v1"
APP = str(Path(__file__).resolve().parents[1] / "apps" / "openai_app.py")
ROWS = [
    {"examples": f"Budget {i} was approved today.", "ground_truth": f"Budget {i} approved."} for i in range(6)
]
MODEL = {"provider": "assay-service", "model": "echo-1", "provider_options": {"service": "llm"}}


def upload(client: TestClient, project: str) -> str:
    response = client.post(
        f"{API}/projects/{project}/datasets", files={"dataset": ("b.csv", csv_bytes(ROWS))}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def inference(client: TestClient, project: str, dataset: str, **model: Any) -> httpx.Response:
    job_config = {"job_type": "inference", **MODEL, **model}
    body = {"name": "via-service", "dataset": dataset, "job_config": job_config}
    return client.post(f"{API}/projects/{project}/jobs/inference", json=body)


@one_backend
def test_a_service_is_evaluated_like_any_model(
    client: TestClient, ray_head: LocalRayHead, tmp_path: Path
) -> None:
    ray_head.ensure_started()
    services = f"{API}/projects/default/services"
    seen_log = tmp_path / "seen.jsonl"
    body = {
        "name": "llm",
        "kind": "app",
        "command": [sys.executable, APP],
        "env": {"SEEN_LOG": str(seen_log)},
        "health_path": "/v1/models",
    }
    assert client.post(services, json=body).status_code == 201
    try:
        dataset = upload(client, "default")
        # Refused when created, before the service even runs: a name of no service here...
        unknown = inference(client, "default", dataset, provider_options={"service": "nowhere"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "job_config.provider_options.service"
        # ...another project's service, which is not revealed...
        other = create_project(client, "other lab")
        foreign = inference(client, other, upload(client, other))
        assert foreign.status_code == 422, foreign.text
        assert foreign.json() == {
            **unknown.json(),
            "detail": unknown.json()["detail"].replace("nowhere", "llm"),
        }
        # ...and an address given by the caller: only the server resolves a service's address.
        pointed = inference(client, "default", dataset, base_url="http://127.0.0.1:9/v1")
        assert pointed.status_code == 422 and pointed.json()["field"] == "job_config.base_url"

        # Created while the service starts: the workflow's inference step waits for it.
        experiment = client.post(
            f"{API}/projects/default/experiments",
            json={"name": "budgets", "dataset": dataset, "task_definition": {"task": "summarization"}},
        ).json()["id"]
        workflow_body = {"name": "served", "experiment_id": experiment, "metrics": ["rouge"], **MODEL}
        created = client.post(f"{API}/projects/default/workflows", json=workflow_body)
        assert created.status_code == 201, created.text
        job = inference(client, "default", dataset)
        assert job.status_code == 201, job.text

        workflow = wait_workflow(client, created.json()["id"])
        assert workflow["state"] == "succeeded", workflow
        assert workflow["provider"] == "assay-service" and workflow["base_url"] is None
        assert 0.0 < workflow["metrics"]["rouge1_mean"] <= 1.0
        examples = client.get(f"{API}/projects/default/experiments/{experiment}/examples").json()
        assert examples["total"] == len(ROWS)
        for row in examples["rows"]:
            output = row["outputs"][workflow["id"]]
            assert output["prediction"] == f"echo-1: {row['example']}" and "rouge1" in output["scores"]

        finished = wait_for_status(client, job.json()["id"], timeout=60)
        assert finished["status"] == "succeeded", finished
        predictions = client.get(f"{API}/projects/default/jobs/{finished['id']}/dataset").json()["id"]
        rows = client.get(f"{API}/projects/default/datasets/{predictions}/rows?offset=0&limit=10").json()
        assert {row["predictions"] for row in rows["rows"]} == {f"echo-1: {r['examples']}" for r in ROWS}

        # What reached the service: the model's name, and no credential of any kind (the
        # response cache may answer some of the second run's prompts).
        seen = [json.loads(line) for line in seen_log.read_text().splitlines()]
        assert len(ROWS) <= len(seen) <= 2 * len(ROWS)
        assert all(request == {"authorization": "", "model": "echo-1"} for request in seen)
    finally:
        assert client.delete(f"{services}/llm").status_code == 204
