"""Experiments and workflows end to end on a real Ray cluster, with the deterministic mock
model provider: two models compared on one dataset, side by side and exported."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lumigator_sdk.strict_schemas import GetExperimentResponse
from sqlalchemy import event

from assay.compute.local_ray import LocalRayHead
from assay.records import ExperimentRecord, WorkflowRecord, WorkflowStatus
from assay.runtime import Runtime
from assay.schemas.experiments import WorkflowDetailsResponse
from tests.helpers import csv_bytes
from tests.integration.jobs_helpers import wait_workflow

pytestmark = pytest.mark.slow
API = "/api/v1"
# The listing's own statements read experiments and workflows; the background duties' ones that
# do too are recognisable (and the rest of theirs never counted): the app runs them meanwhile.
BACKGROUND_MARKERS = ("leases", "tracking_", "object_cleanups", ".status IN", "warm_workers")
ROWS = [
    {
        "examples": f"The committee met on day {i} and approved budget number {i}.",
        "ground_truth": f"Budget {i} approved.",
    }
    for i in range(12)
]


@pytest.fixture(autouse=True)
def _ray(ray_head: LocalRayHead) -> None:
    ray_head.ensure_started()


def make_experiment(client: TestClient) -> str:
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("news.csv", csv_bytes(ROWS))}).json()["id"]
    body = {
        "name": "budgets",
        "dataset": dataset,
        "max_samples": 10,
        "task_definition": {"task": "summarization"},
    }
    response = client.post(f"{API}/experiments/", json=body)
    assert response.status_code == 201, response.text
    GetExperimentResponse.model_validate(response.json())
    return str(response.json()["id"])


def add_workflow(client: TestClient, experiment_id: str, name: str, reply: str) -> str:
    body = {
        "name": name,
        "experiment_id": experiment_id,
        "model": reply,
        "provider": "mock",
        "metrics": ["rouge", "bleu", "exact_match"],
    }
    response = client.post(f"{API}/workflows/", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "created"
    return str(response.json()["id"])


def test_two_models_compared_side_by_side(client: TestClient) -> None:
    experiment_id = make_experiment(client)
    echo = add_workflow(client, experiment_id, "echo", "{prompt}")
    # The fixed reply comes from the provider's own options (the model names the echo): they
    # are kept by the native route and reach the inference job.
    options = {"reply": "Budget approved."}
    native = client.post(
        f"{API}/projects/default/workflows",
        json={
            "name": "fixed",
            "experiment_id": experiment_id,
            "model": "{prompt}",
            "provider": "mock",
            "provider_options": options,
            "metrics": ["rouge", "bleu", "exact_match"],
        },
    )
    assert native.status_code == 201, native.text
    assert native.json()["provider_options"] == options and native.json()["state"] == "created"
    fixed = native.json()["id"]
    lumigator = client.get(f"{API}/workflows/{fixed}").json()
    assert set(lumigator) == set(WorkflowDetailsResponse.model_fields), "Lumigator's fields, exactly"
    results = {
        name: wait_workflow(client, workflow_id) for name, workflow_id in (("echo", echo), ("fixed", fixed))
    }
    inference = client.get(f"{API}/projects/default/jobs/{results['fixed']['inference_job_id']}").json()
    assert inference["config"]["provider_options"] == options
    for body in results.values():
        assert body["state"] == "succeeded", body
        assert body["status"] == "succeeded"
        assert {"rouge1_mean", "rouge1_ci_low", "bleu_mean"} <= set(body["metrics"])
    assert results["echo"]["metrics"]["rouge1_mean"] != results["fixed"]["metrics"]["rouge1_mean"]

    experiment = client.get(f"{API}/experiments/{experiment_id}").json()
    assert {w["id"] for w in experiment["workflows"]} == {echo, fixed}

    comparison = client.get(f"{API}/projects/default/experiments/{experiment_id}/comparison").json()
    best = comparison["best"]["rouge1"]
    means = {w["workflow_id"]: w["metrics"]["rouge1"]["mean"] for w in comparison["workflows"]}
    assert means[best] == max(means.values())

    examples = client.get(
        f"{API}/projects/default/experiments/{experiment_id}/examples",
        params={"disagreement": "rouge1", "limit": 4},
    ).json()
    assert examples["total"] == 10 and len(examples["rows"]) == 4
    spreads = [
        abs(r["outputs"][echo]["scores"]["rouge1"] - r["outputs"][fixed]["scores"]["rouge1"])
        for r in examples["rows"]
    ]
    assert spreads == sorted(spreads, reverse=True)
    assert examples["rows"][0]["outputs"][fixed]["prediction"] == "Budget approved."

    exported = client.get(
        f"{API}/projects/default/experiments/{experiment_id}/export", params={"format": "csv"}
    )
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(table) == 10 and table[0]["fixed: prediction"] == "Budget approved."
    report = client.get(f"{API}/projects/default/experiments/{experiment_id}/export?format=html").text
    assert "<svg" in report and "budgets" in report and 'class="best"' in report
    document = json.loads(
        client.get(f"{API}/projects/default/experiments/{experiment_id}/export?format=json").text
    )
    assert len(document["examples"]) == 10

    logs = client.get(f"{API}/workflows/{echo}/logs").json()["logs"]
    assert "scoring 10 examples" in logs
    download = client.get(f"{API}/workflows/{echo}/result/download").json()
    assert isinstance(download, str) and download.startswith("http")


def test_a_reference_free_workflow_scores_a_dataset_without_references(client: TestClient) -> None:
    """Text generation often has no ground truth: its default metric (length) needs none, and
    neither the workflow nor its evaluation step asks for one."""
    rows = [{"examples": row["examples"]} for row in ROWS[:3]]
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("q.csv", csv_bytes(rows))}).json()["id"]
    experiment = client.post(
        f"{API}/experiments/",
        json={"name": "free", "dataset": dataset, "task_definition": {"task": "text-generation"}},
    ).json()["id"]
    created = client.post(
        f"{API}/workflows/",
        json={"name": "free", "experiment_id": experiment, "model": "Yes.", "provider": "mock"},
    )
    assert created.status_code == 201, created.text
    body = wait_workflow(client, created.json()["id"])
    assert body["state"] == "succeeded", body
    assert body["metrics"]["prediction_words_mean"] == 1.0
    examples = client.get(f"{API}/projects/default/experiments/{experiment}/examples").json()
    assert [row["ground_truth"] for row in examples["rows"]] == [None, None, None]
    report = client.get(f"{API}/projects/default/experiments/{experiment}/export?format=html")
    assert report.status_code == 200 and "Yes." in report.text


def test_failed_step_is_recorded_and_retried(client: TestClient) -> None:
    experiment_id = make_experiment(client)
    workflow_id = add_workflow(client, experiment_id, "judge", "x")
    client.post(f"{API}/datasets/", files={"dataset": ("x.csv", csv_bytes())})
    body = {
        "name": "bad",
        "experiment_id": experiment_id,
        "model": "m",
        "provider": "mock",
        "metrics": ["nope"],
    }
    rejected = client.post(f"{API}/workflows/", json=body)
    assert rejected.status_code == 422 and "valid metrics" in rejected.json()["detail"]
    assert wait_workflow(client, workflow_id)["state"] == "succeeded"
    retry = client.post(f"{API}/projects/default/workflows/{workflow_id}/retry")
    assert retry.status_code == 409


def test_delete_running_workflow_needs_force(client: TestClient, runtime: Runtime) -> None:
    experiment_id = make_experiment(client)
    workflow_id = add_workflow(client, experiment_id, "slow", "{prompt}")
    conflict = client.delete(f"{API}/workflows/{workflow_id}")
    if conflict.status_code == 409:
        assert client.delete(f"{API}/workflows/{workflow_id}", params={"force": True}).status_code == 204
    assert client.get(f"{API}/workflows/{workflow_id}").status_code == 404
    assert client.delete(f"{API}/experiments/{experiment_id}").status_code == 204
    assert client.get(f"{API}/experiments/{experiment_id}").status_code == 404


def test_listing_uses_a_constant_number_of_queries(client: TestClient, runtime: Runtime) -> None:
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]

    def seed(count: int) -> None:
        with runtime.session_factory() as session:
            for index in range(count):
                experiment = ExperimentRecord(
                    project_id="default",
                    name=f"e{index}",
                    dataset_id=uuid.UUID(dataset),
                    task_definition={"task": "summarization"},
                    max_samples=-1,
                )
                session.add(experiment)
                session.flush()
                for number in range(5):
                    session.add(
                        WorkflowRecord(
                            experiment_id=experiment.id,
                            project_id="default",
                            name=f"w{number}",
                            model="m",
                            provider="mock",
                            generation_config={},
                            status=WorkflowStatus.SUCCEEDED,
                            metrics={"rouge1_mean": 0.5},
                        )
                    )
            session.commit()

    def count_queries(limit: int) -> int:
        statements: list[str] = []

        def record(*args: Any) -> None:
            statement = str(args[2])
            listing = "experiments" in statement or "workflows" in statement
            if listing and not any(marker in statement for marker in BACKGROUND_MARKERS):
                statements.append(statement)

        event.listen(runtime.engine, "before_cursor_execute", record)
        try:
            response = client.get(f"{API}/experiments/all", params={"limit": limit})
        finally:
            event.remove(runtime.engine, "before_cursor_execute", record)
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, response.json()["total"])
        return len(statements)

    seed(10)
    small = count_queries(10)
    seed(190)
    large = count_queries(200)
    assert large == small
    assert client.get(f"{API}/experiments/").json()["total"] == 200
