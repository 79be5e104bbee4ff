"""Waiting for jobs through the API, as a client would."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

TERMINAL = {"succeeded", "failed", "stopped"}


def wait_for_status(
    client: TestClient, job_id: str, statuses: set[str] = TERMINAL, timeout: float = 180.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout:.0f}s")
        time.sleep(0.3)


def wait_workflow(
    client: TestClient, workflow_id: str, project: str = "default", timeout: float = 240.0, **kw: Any
) -> dict[str, Any]:
    """The workflow once it has ended (``kw`` goes with each request: an account's headers)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/projects/{project}/workflows/{workflow_id}", **kw).json()
        if body["state"] in TERMINAL:
            return body
        if time.monotonic() > deadline:
            reason = body["status_reason"]
            raise AssertionError(f"workflow still {body['state']} after {timeout:.0f}s: {reason}")
        time.sleep(0.3)


def script_job(client: TestClient, name: str, argv: list[str], **config: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/jobs/script",
        json={"name": name, "job_config": {"job_type": "script", "argv": argv, **config}},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
