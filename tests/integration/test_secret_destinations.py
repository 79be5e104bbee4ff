"""Secrets bound to destinations: a job or workflow that would send a secret to a host it may
not go to is refused at submission, naming the field and the host, with nothing written."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from assay.records import WorkflowRecord
from assay.runtime import Runtime
from assay.services.workflow_tracking import WorkflowTracking
from tests.helpers import csv_bytes
from tests.integration.accounts import API

SECRET = "sk-destination-test-0123456789"
ROWS = [{"examples": "Q?", "ground_truth": "A.", "predictions": "A."}]


def put_secret(client: TestClient, name: str, hosts: list[str] | None = None, native: bool = False) -> int:
    body: dict[str, Any] = {"value": SECRET, "description": "key"}
    if hosts is not None:
        body["allowed_hosts"] = hosts
    path = f"{API}/projects/default/secrets/{name}" if native else f"{API}/settings/secrets/{name}"
    return client.put(path, json=body).status_code


def listed(client: TestClient) -> dict[str, list[str]]:
    """The native listing; Lumigator's keeps exactly Lumigator's fields (its SDK forbids others)."""
    lumigator = client.get(f"{API}/settings/secrets").json()
    assert all(set(item) == {"name", "description"} for item in lumigator)
    return {
        item["name"]: item["allowed_hosts"] for item in client.get(f"{API}/projects/default/secrets").json()
    }


def dataset(client: TestClient) -> str:
    return str(client.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes(ROWS))}).json()["id"])


def inference(client: TestClient, data: str, secret: str, provider: str, base_url: str | None = None) -> Any:
    config: dict[str, Any] = {"job_type": "inference", "provider": provider, "model": "m"}
    config["secret_key_name"] = secret
    if base_url is not None:
        config["base_url"] = base_url
    return client.post(f"{API}/jobs/inference", json={"name": "i", "dataset": data, "job_config": config})


def assert_refused(response: Any, field: str, host: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and host in response.json()["detail"]
    assert SECRET not in response.text


def test_allowed_hosts_are_set_listed_and_kept_on_replace(client: TestClient) -> None:
    assert put_secret(client, "openai_key") == 201
    assert put_secret(client, "gateway", ["HTTPS://GW.example.com/v1/", "127.0.0.1:8000"], native=True) == 201
    assert listed(client) == {"gateway": ["127.0.0.1:8000", "https://gw.example.com/v1"], "openai_key": []}
    assert put_secret(client, "gateway") == 204  # a Lumigator client rotating the key
    assert listed(client)["gateway"] == ["127.0.0.1:8000", "https://gw.example.com/v1"]
    assert put_secret(client, "gateway", []) == 204
    assert listed(client)["gateway"] == []
    for bad in (["ftp://x"], ["a b"], ["http://user:pw@host"], ["x"] * 33):
        response = client.put(
            f"{API}/settings/secrets/bad", json={"value": SECRET, "description": "", "allowed_hosts": bad}
        )
        assert response.status_code == 422 and "allowed_hosts" in response.json()["detail"][0]["loc"]
        assert SECRET not in response.text


def test_jobs_send_secrets_only_where_they_may_go(client: TestClient) -> None:
    data = dataset(client)
    put_secret(client, "openai_key")
    put_secret(client, "local_key", ["127.0.0.1"])
    put_secret(client, "gateway", ["https://gw.example.com/v1"])

    assert inference(client, data, "openai_key", "openai").status_code == 201
    refusals = [
        (
            inference(client, data, "openai_key", "openai", "https://collector.example/v1"),
            "collector.example",
        ),
        (inference(client, data, "openai_key", "openai-compatible", "http://127.0.0.1:9/v1"), "127.0.0.1"),
        (inference(client, data, "local_key", "openai"), "api.openai.com"),
        (
            inference(client, data, "gateway", "openai-compatible", "https://gw.example.com/v2"),
            "gw.example.com",
        ),
    ]
    for response, host in refusals:
        assert_refused(response, "job_config.secret_key_name", host)
    assert (
        inference(client, data, "local_key", "openai-compatible", "http://127.0.0.1:9/v1").status_code == 201
    )
    assert inference(client, data, "gateway", "vllm", "https://gw.example.com/v1").status_code == 201
    annotate = client.post(
        f"{API}/jobs/annotate",
        json={
            "name": "a",
            "dataset": data,
            "job_config": {
                "job_type": "annotate",
                "provider": "openai-compatible",
                "model": "m",
                "base_url": "https://collector.example/v1",
                "secret_key_name": "local_key",
            },
        },
    )
    assert_refused(annotate, "job_config.secret_key_name", "collector.example")

    def judged(url: str) -> Any:
        config = {
            "job_type": "evaluator",
            "secret_key_name": "local_key",
            "metrics": ["exact_match"],
            "llm_as_judge": {"model_name": "judge", "model_base_url": url},
        }
        return client.post(f"{API}/jobs/evaluator", json={"name": "e", "dataset": data, "job_config": config})

    assert_refused(judged("https://judge.example/v1"), "job_config.secret_key_name", "judge.example")
    assert judged("http://127.0.0.1:9/v1").status_code == 201
    assert client.get(f"{API}/jobs").json()["total"] == 4


def test_workflows_are_checked_when_created(client: TestClient) -> None:
    data = dataset(client)
    experiment = client.post(f"{API}/experiments/", json={"name": "x", "dataset": data}).json()["id"]
    put_secret(client, "local_key", ["127.0.0.1"])

    def workflow(base_url: str, judge: str | None = None) -> Any:
        body: dict[str, Any] = {
            "name": "w",
            "experiment_id": experiment,
            "model": "m",
            "provider": "openai-compatible",
            "base_url": base_url,
            "secret_key_name": "local_key",
        }
        if judge is not None:
            body["llm_as_judge"] = {"model_name": "judge", "model_base_url": judge}
        return client.post(f"{API}/workflows/", json=body)

    assert_refused(workflow("https://collector.example/v1"), "secret_key_name", "collector.example")
    assert_refused(
        workflow("http://127.0.0.1:9/v1", "https://judge.example/v1"), "secret_key_name", "judge.example"
    )
    assert client.get(f"{API}/experiments/{experiment}").json()["workflows"] == []
    assert workflow("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1").status_code == 201


def test_a_workflow_whose_secret_may_no_longer_go_there_fails_with_the_reason(
    client: TestClient, runtime: Runtime
) -> None:
    """The secret's list changed after the workflow was accepted: its next step is refused
    and the workflow ends failed, instead of being retried forever or sending the key."""
    data = dataset(client)
    experiment = client.post(f"{API}/experiments/", json={"name": "x", "dataset": data}).json()["id"]
    put_secret(client, "local_key", ["127.0.0.1"])
    with runtime.session_factory() as session:
        workflow = WorkflowRecord(
            experiment_id=uuid.UUID(experiment),
            project_id="default",
            name="moved",
            model="m",
            provider="openai-compatible",
            base_url="https://collector.example/v1",
            secret_key_name="local_key",
            generation_config={},
        )
        session.add(workflow)
        WorkflowTracking(session).workflow_created(workflow)
        session.commit()
        workflow_id = workflow.id
    deadline = time.monotonic() + 30
    while (body := client.get(f"{API}/projects/default/workflows/{workflow_id}").json())[
        "state"
    ] == "created":
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert body["state"] == "failed" and body["failed_step"] == "inference", body
    assert "collector.example" in body["status_reason"] and SECRET not in str(body)
    assert client.get(f"{API}/jobs").json()["total"] == 0
