"""Everything a job or workflow needs is checked when it is submitted: a job that cannot succeed
is a 422 naming the field and what to do, and nothing is recorded for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nltk.data  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from assay.metrics import meteor
from tests.helpers import csv_bytes

API = "/api/v1"


def dataset(client: TestClient, rows: list[dict[str, str]] | None = None) -> str:
    files = {"dataset": ("data.csv", csv_bytes(rows) if rows else csv_bytes())}
    response = client.post(f"{API}/datasets/", files=files)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def refused(client: TestClient, path: str, body: dict[str, Any], field: str, words: str) -> None:
    response = client.post(f"{API}{path}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field, response.json()
    assert words in response.json()["detail"], response.json()


def inference(dataset_id: str, **config: Any) -> dict[str, Any]:
    return {"name": "check", "dataset": dataset_id, "job_config": {"job_type": "inference", **config}}


def test_inference_jobs_name_a_provider_model_and_base_url_that_can_run(client: TestClient) -> None:
    data = dataset(client)
    refused(
        client,
        "/jobs/inference",
        inference(data, provider="opnai", model="m"),
        "job_config.provider",
        "unknown provider 'opnai'",
    )
    refused(
        client,
        "/jobs/inference",
        inference(data, provider="hf", model="package:no_such_model_package"),
        "job_config.model",
        "no installed Python package 'no_such_model_package'",
    )
    refused(
        client,
        "/jobs/inference",
        inference(data, provider="openai-compatible", model="m"),
        "job_config.base_url",
        "needs the base_url",
    )
    assert client.get(f"{API}/jobs/").json()["total"] == 0


def test_metrics_that_cannot_run_here_are_refused(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = client.post(
        f"{API}/datasets/",
        files={"dataset": ("p.csv", b"examples,ground_truth,predictions\nq,a,b\n")},
    ).json()["id"]
    evaluation = {
        "name": "e",
        "dataset": data,
        "job_config": {"job_type": "evaluator", "metrics": ["meteor"]},
    }
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.setattr(meteor, "REPO_NLTK_DATA", tmp_path)
    refused(client, "/jobs/evaluator", evaluation, "job_config.metrics", "METEOR needs WordNet")
    defaults = {"name": "e", "dataset": data, "job_config": {"job_type": "evaluator"}}
    refused(client, "/jobs/evaluator", defaults, "job_config.metrics", "run scripts/install_wordnet.sh")
    monkeypatch.undo()
    assert client.post(f"{API}/jobs/evaluator", json=evaluation).status_code == 201


def test_workflows_are_checked_before_they_are_recorded(client: TestClient) -> None:
    without_references = dataset(client, [{"examples": "a question"}])
    experiment = client.post(
        f"{API}/experiments/", json={"name": "x", "dataset": without_references, "max_samples": -1}
    ).json()["id"]
    workflow = {"name": "w", "experiment_id": experiment, "provider": "mock", "model": "{prompt}"}
    refused(client, "/workflows/", {**workflow, "provider": "nope"}, "provider", "unknown provider 'nope'")
    refused(client, "/workflows/", workflow, "metrics", "has no 'ground_truth' column")
    reference_free = client.post(f"{API}/workflows/", json={**workflow, "metrics": ["length"]})
    assert reference_free.status_code == 201, reference_free.text
    listed = client.get(f"{API}/experiments/{experiment}").json()["workflows"]
    assert [item["id"] for item in listed] == [reference_free.json()["id"]]


def test_a_workflow_is_checked_for_its_evaluation_and_provider_options_when_created(
    client: TestClient,
) -> None:
    """What its evaluation step and its provider would refuse is refused with the workflow, on
    both routes, naming the fields the caller sent (test_experiments_api runs one with options)."""
    data = dataset(client)
    experiment = client.post(f"{API}/experiments/", json={"name": "x", "dataset": data}).json()["id"]
    workflow = {"name": "w", "experiment_id": experiment, "provider": "mock", "model": "{prompt}"}
    judge = {"model_name": "judge", "model_base_url": "http://127.0.0.1:9/v1"}
    for path in ("/workflows/", "/projects/default/workflows"):
        refused(client, path, {**workflow, "metrics": ["llm_judge"]}, "metrics", "add llm_as_judge")
        refused(
            client,
            path,
            {**workflow, "llm_as_judge": {**judge, "model_base_url": "judge.example/v1"}},
            "llm_as_judge.model_base_url",
            "must start with http:// or https://",
        )
        refused(
            client,
            path,
            {**workflow, "provider_options": {"latency_s": -1}},
            "provider_options.latency_s",
            "greater than or equal to 0",
        )
        refused(
            client,
            path,
            {**workflow, "provider_options": {"volume": 11}},
            "provider_options.volume",
            "Extra inputs are not permitted",
        )
    assert client.get(f"{API}/experiments/{experiment}").json()["workflows"] == []


def test_an_evaluation_job_names_the_judge_it_lacks_and_the_judge_fields_sent(client: TestClient) -> None:
    data = client.post(
        f"{API}/datasets/",
        files={"dataset": ("p.csv", b"examples,ground_truth,predictions\nq,a,b\n")},
    ).json()["id"]
    evaluation = {
        "name": "e",
        "dataset": data,
        "job_config": {"job_type": "evaluator", "metrics": ["llm_judge"]},
    }
    refused(client, "/jobs/evaluator", evaluation, "job_config.metrics", "add job_config.llm_as_judge")
    evaluation["job_config"]["llm_as_judge"] = {"model_name": "judge", "model_base_url": "ftp://judge"}
    refused(
        client,
        "/jobs/evaluator",
        evaluation,
        "job_config.llm_as_judge.model_base_url",
        "must start with http:// or https://",
    )
    assert client.get(f"{API}/jobs/").json()["total"] == 0


def test_an_evaluation_needs_references_only_for_metrics_that_compare_with_them(client: TestClient) -> None:
    data = client.post(
        f"{API}/datasets/", files={"dataset": ("p.csv", b"examples,predictions\nq,b\n")}
    ).json()["id"]

    def evaluation(metrics: list[str]) -> dict[str, Any]:
        return {"name": "e", "dataset": data, "job_config": {"job_type": "evaluator", "metrics": metrics}}

    refused(client, "/jobs/evaluator", evaluation(["length", "rouge"]), "dataset", "the columns ground_truth")
    assert client.post(f"{API}/jobs/evaluator", json=evaluation(["length"])).status_code == 201
