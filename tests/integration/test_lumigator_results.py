"""Lumigator's result files and contracts, as its notebooks and web app read them.

A workflow (mock model, Lumigator's default metrics plus sacrebleu) runs on a real Ray cluster.
The evaluation job's downloadable result is validated against Lumigator's evaluator schema
(``lumigator/jobs/evaluator/schemas.py``, re-declared here, not imported); the workflow's
compiled results file, its URL string, its metrics, job metadata and the predictions dataset
(name, flag, CSV content) are checked against what Lumigator's backend and frontend produce.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from assay.compute.local_ray import LocalRayHead
from tests.helpers import csv_bytes

pytestmark = pytest.mark.slow
API = "/api/v1"
ROWS = [
    {
        "examples": f'The council met on day {i}.\nIt approved budget number {i}, "unanimously".',
        "ground_truth": f"Budget {i} approved.",
    }
    for i in range(8)
]
METRICS = ["rouge", "bleu", "meteor", "bertscore", "sacrebleu"]


# Lumigator's evaluator output schema (lumigator/jobs/evaluator/schemas.py), re-declared.
class DatasetConfig(BaseModel):
    path: str
    model_config = ConfigDict(extra="forbid")


class EvaluationConfig(BaseModel):
    metrics: list[str] = ["rouge", "meteor", "bertscore", "bleu"]
    max_samples: int = 0
    return_input_data: bool = False
    return_predictions: bool = False
    storage_path: str
    model_config = ConfigDict(extra="forbid")


class EvalJobConfig(BaseModel):
    name: str
    dataset: DatasetConfig
    evaluation: EvaluationConfig
    model_config = ConfigDict(extra="forbid")


class BertScore(BaseModel):
    precision: list[float]
    recall: list[float]
    f1: list[float]
    hashcode: str
    precision_mean: float
    recall_mean: float
    f1_mean: float


class Meteor(BaseModel):
    meteor: list[float]
    meteor_mean: float


class Bleu(BaseModel):
    bleu: list[float]
    bleu_mean: float


class Rouge(BaseModel):
    rouge1: list[float]
    rouge2: list[float]
    rougeL: list[float]
    rougeLsum: list[float]
    rouge1_mean: float
    rouge2_mean: float
    rougeL_mean: float
    rougeLsum_mean: float


class EvalJobMetrics(BaseModel):
    bertscore: BertScore | None = None
    meteor: Meteor | None = None
    rouge: Rouge | None = None
    bleu: Bleu | None = None


class EvalJobArtifacts(BaseModel):
    predictions: list[str] | None = None
    ground_truth: list[str] | None = None
    evaluation_time: float | None


class JobOutput(BaseModel):
    metrics: EvalJobMetrics
    parameters: EvalJobConfig
    artifacts: EvalJobArtifacts | None


# What Lumigator's web app reads from the compiled workflow file (frontend/src/types/Workflow.ts).
class Artifacts(BaseModel):
    examples: list[str]
    ground_truth: list[str]
    model: str
    predictions: list[str]
    inference_time: float
    evaluation_time: float


class MetricsResult(BaseModel):
    bertscore: BertScore
    meteor: Meteor
    rouge: Rouge
    bleu: Bleu


class WorkflowResults(BaseModel):
    artifacts: Artifacts
    metrics: MetricsResult
    parameters: dict[str, Any]


@pytest.fixture(autouse=True)
def _ray(ray_head: LocalRayHead) -> None:
    ray_head.ensure_started()


def fetch(client: TestClient, url: str) -> httpx.Response:
    """A link as a client follows it: API links through the app, S3 links directly."""
    response = client.get(url) if url.startswith(str(client.base_url)) else httpx.get(url)
    assert response.status_code == 200, response.text
    return response


def run_workflow(client: TestClient) -> tuple[str, dict[str, Any]]:
    dataset = client.post(
        f"{API}/datasets/", files={"dataset": ("council minutes.csv", csv_bytes(ROWS))}
    ).json()["id"]
    experiment = client.post(
        f"{API}/experiments/", json={"name": "council", "dataset": dataset, "max_samples": -1}
    ).json()["id"]
    created = client.post(
        f"{API}/workflows/",
        json={
            "name": "echo",
            "experiment_id": experiment,
            "model": "org/{prompt}",
            "provider": "mock",
            "metrics": METRICS,
        },
    )
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["id"])
    running = client.get(f"{API}/workflows/{workflow_id}").json()
    assert running["artifacts_download_url"] is None
    assert client.get(f"{API}/workflows/{workflow_id}/result/download").status_code == 409
    deadline = time.monotonic() + 300
    while True:
        native = client.get(f"{API}/projects/default/workflows/{workflow_id}").json()
        if native["state"] in ("succeeded", "failed", "stopped"):
            break
        assert time.monotonic() < deadline, native
        time.sleep(0.5)
    assert native["state"] == "succeeded", native
    return workflow_id, native


def test_results_files_and_contracts_are_lumigators(client: TestClient) -> None:
    workflow_id, native = run_workflow(client)

    # The evaluation job's downloadable result is Lumigator's results.json.
    evaluation_id = native["evaluation_job_id"]
    download = client.get(f"{API}/jobs/{evaluation_id}/result/download").json()["download_url"]
    output = JobOutput.model_validate(fetch(client, download).json())
    assert output.metrics.rouge and output.metrics.bleu and output.metrics.meteor and output.metrics.bertscore
    assert len(output.metrics.rouge.rouge1) == len(ROWS)
    assert output.metrics.rouge.rouge1_mean == pytest.approx(sum(output.metrics.rouge.rouge1) / len(ROWS))
    assert all(0 <= score <= 1 for score in output.metrics.bleu.bleu)
    assert output.parameters.evaluation.metrics == METRICS
    assert output.artifacts is not None and output.artifacts.ground_truth == [r["ground_truth"] for r in ROWS]
    assert fetch(client, download).json()["metrics"]["sacrebleu"]["sacrebleu_corpus"] >= 0
    # Assay's richer summary stays on the native routes.
    summary = client.get(f"{API}/projects/default/jobs/{evaluation_id}").json()["summary"]
    assert {"ci_low", "ci_high"} <= set(summary["metrics"]["rouge1"]) and "sacrebleu" in summary["corpus"]

    # The workflow as Lumigator's web app reads it.
    workflow = client.get(f"{API}/workflows/{workflow_id}").json()
    assert workflow["status"] == "succeeded"
    assert workflow["metrics"] == {
        name: round(value, 3) for name, value in native["metrics"].items() if name.endswith("_mean")
    }
    assert {"rouge1_mean", "rougeLsum_mean", "bleu_mean", "meteor_mean", "bertscore_f1_mean"} <= set(
        workflow["metrics"]
    )
    assert workflow["metrics"]["rouge1_mean"] == round(output.metrics.rouge.rouge1_mean, 3)
    url = client.get(f"{API}/workflows/{workflow_id}/result/download").json()
    assert isinstance(url, str)
    compiled = WorkflowResults.model_validate(fetch(client, url).json())
    listed = fetch(client, workflow["artifacts_download_url"]).json()
    assert compiled == WorkflowResults.model_validate(listed)
    assert compiled.artifacts.examples == [row["examples"] for row in ROWS]
    assert compiled.artifacts.predictions == output.artifacts.predictions
    assert compiled.artifacts.model == "org/{prompt}" and compiled.artifacts.inference_time > 0
    assert compiled.metrics.rouge == output.metrics.rouge and compiled.metrics.bleu == output.metrics.bleu

    # Jobs say their type in metadata, where Lumigator's web app looks for it.
    jobs = client.get(f"{API}/jobs/").json()["items"]
    assert {job["metadata"]["job_type"] for job in jobs} == {"inference", "evaluator"}

    # The predictions: Lumigator's name, the input's flag (an upload's ground truth is not
    # generated, and a model's predictions beside it do not change that), downloadable as CSV.
    predictions = client.get(f"{API}/jobs/{native['inference_job_id']}/dataset").json()
    assert predictions["filename"] == "council minutes-org-{prompt}-predictions.csv"
    assert predictions["generated"] is False
    links = client.get(f"{API}/datasets/{predictions['id']}/download", params={"extension": "csv"}).json()
    (csv_url,) = links["download_urls"]
    response = fetch(client, csv_url)
    disposition = response.headers["content-disposition"]
    assert 'filename="council minutes-org-{prompt}-predictions.csv"' in disposition
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["examples"] for row in table] == [row["examples"] for row in ROWS]
    assert [row["ground_truth"] for row in table] == [row["ground_truth"] for row in ROWS]
    assert [row["predictions"] for row in table] == compiled.artifacts.predictions
    parquet = client.get(f"{API}/datasets/{predictions['id']}/download", params={"extension": "parquet"})
    assert len(parquet.json()["download_urls"]) == 1
