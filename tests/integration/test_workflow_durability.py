"""The whole scenario through the published lumigator-sdk against real ``assay serve``
processes: the API is killed between inference and evaluation, MLflow is down meanwhile,
and everything still finishes, with the same numbers in the SDK, the native API and MLflow."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from lumigator_schemas.datasets import DatasetFormat
from lumigator_schemas.experiments import ExperimentCreate
from lumigator_schemas.workflows import WorkflowCreateRequest
from lumigator_sdk.lumigator import LumigatorClient
from mlflow.tracking import MlflowClient

from assay.compute.local_ray import LocalRayHead
from assay.config import Settings
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.test_lumigator_sdk import settings_env
from tests.servers import ManagedProcess, MlflowServer, free_port, serve_command

pytestmark = pytest.mark.slow
ROWS = [
    {
        "examples": f"Council meeting {i}: the budget {i} passed after debate.",
        "ground_truth": f"Budget {i} passed.",
    }
    for i in range(8)
]
METRICS = ["rouge", "bleu"]


@dataclass
class ApiProcess:
    settings: Settings
    port: int = field(default_factory=free_port)
    server: ManagedProcess | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ApiProcess:
        env = {**os.environ, **settings_env(self.settings)}
        log = self.settings.home / "serve.log"
        self.server = ManagedProcess(serve_command(self.port), log, env, grace_s=60)
        self.server.start(
            lambda: httpx.get(f"http://{self.host}/api/v1/health/").status_code == 200, 90, "assay serve"
        )
        return self

    def kill(self) -> None:
        assert self.server is not None
        self.server.kill()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def api(
    request: pytest.FixtureRequest, tmp_path: Path, ray_head: LocalRayHead, mlflow_server: MlflowServer
) -> Iterator[ApiProcess]:
    ray_head.ensure_started()
    settings = make_settings(
        Backend("sqlite", "local"),
        tmp_path,
        request,
        tracking_uri=mlflow_server.tracking_uri,
        tracking_interval_seconds=0.5,
    )
    process = ApiProcess(settings).start()
    yield process
    process.stop()


def native(api: ApiProcess, path: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"http://{api.host}/api/v1/projects/default/{path}").json()
    return body


def wait_state(api: ApiProcess, workflow_id: str, states: set[str], timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = native(api, f"workflows/{workflow_id}")
        if body["state"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"workflow {workflow_id} never reached {states}")


def workflow(sdk: LumigatorClient, experiment_id: str, name: str, reply: str) -> str:
    request = WorkflowCreateRequest(
        name=name, experiment_id=experiment_id, model=reply, provider="mock", metrics=METRICS
    )
    return sdk.workflows.create_workflow(request).id


@pytest.fixture
def mlflow_outage(mlflow_server: MlflowServer) -> Iterator[MlflowServer]:
    """The session's MLflow server, which the test stops and starts again: it runs afterwards
    even when the test failed between the two."""
    yield mlflow_server
    mlflow_server.ensure_running()


def test_sdk_scenario_survives_api_kill_and_mlflow_outage(
    api: ApiProcess, mlflow_outage: MlflowServer
) -> None:
    sdk = LumigatorClient(api.host)
    dataset = sdk.datasets.create_dataset(io.BytesIO(csv_bytes(ROWS)), DatasetFormat.JOB)
    experiment = sdk.experiments.create_experiment(
        ExperimentCreate(name="council", dataset=dataset.id, max_samples=6)
    )
    mlflow_outage.stop()

    echo = workflow(sdk, experiment.id, "echo", "{prompt}")
    fixed = workflow(sdk, experiment.id, "fixed", "Budget passed.")
    wait_state(api, echo, {"running_evaluation"})
    api.kill()
    api.start()
    finished = {key: wait_state(api, key, {"succeeded", "failed", "stopped"}) for key in (echo, fixed)}
    assert all(body["state"] == "succeeded" for body in finished.values()), finished

    control_experiment = sdk.experiments.create_experiment(
        ExperimentCreate(name="control", dataset=dataset.id, max_samples=6)
    )
    control = workflow(sdk, control_experiment.id, "echo-again", "{prompt}")
    assert wait_state(api, control, {"succeeded", "failed"})["state"] == "succeeded"
    assert native(api, f"workflows/{control}")["metrics"] == finished[echo]["metrics"]

    details = sdk.workflows.get_workflow(echo)
    assert details.status.value == "succeeded"
    # Lumigator's workflow metrics: the means, rounded to three places as Lumigator rounds them.
    means = {
        name: round(value, 3) for name, value in finished[echo]["metrics"].items() if name.endswith("_mean")
    }
    assert details.metrics == means
    assert 0 < details.metrics["rouge1_mean"] < 1
    listed = sdk.experiments.get_experiments()
    assert {experiment.id, control_experiment.id} <= {item.id for item in listed.items}
    download = httpx.get(f"http://{api.host}/api/v1/workflows/{echo}/result/download").json()
    assert isinstance(download, str) and details.artifacts_download_url
    compiled = httpx.get(download).json()
    assert httpx.get(details.artifacts_download_url).json() == compiled
    assert round(compiled["metrics"]["rouge"]["rouge1_mean"], 3) == details.metrics["rouge1_mean"]

    mlflow_outage.restart()
    client = MlflowClient(mlflow_outage.tracking_uri)
    deadline = time.monotonic() + 120
    while True:
        found = client.get_experiment_by_name("council")
        runs = client.search_runs([found.experiment_id]) if found else []
        parent = [run for run in runs if run.data.tags.get("mlflow.runName") == "echo"]
        if parent and parent[0].info.status == "FINISHED" and len(runs) == 6:
            break
        assert time.monotonic() < deadline, f"tracking never caught up: {len(runs)} runs"
        time.sleep(1)
    assert parent[0].data.metrics["rouge1_mean"] == pytest.approx(details.metrics["rouge1_mean"])
    assert parent[0].data.params["model"] == "{prompt}"
    nested = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert len(nested) == 2
    evaluation = next(run for run in nested if run.data.tags.get("assay.kind") == "evaluator")
    artifacts = {item.path for item in client.list_artifacts(evaluation.info.run_id)}
    assert {"summary.json", "scores.parquet"} <= artifacts
