"""Orchestration that does not wait for itself: a workflow's next step goes out in the pass that
sees the previous one finish, and a request wakes the reconciler instead of waiting for its tick.

Both apps here tick once an hour, so anything that happens within seconds happened because of a
pass the test ran itself, or because a request woke the reconciler. Built-in steps run in the
warm worker (``services.warm_pool``); tests of the worker itself are at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assay.compute import EngineStatus
from assay.compute.local_ray import LocalRayHead
from assay.records import JobRecord, JobStatus, WorkflowRecord, WorkflowStatus
from assay.repositories.warm_workers import POOL_RUNNER, WarmWorkerRepository
from assay.runtime import Runtime
from assay.services.reconciler import Reconciler
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.jobs_helpers import wait_for_status
from tests.openai_server import OpenAIServer
from tests.serving import served_app

API = "/api/v1"
HOUR = 3600.0
BACKEND = Backend("sqlite", "local")


def _app(
    tmp_path: Path, request: pytest.FixtureRequest, wakeup: bool, **overrides: object
) -> Iterator[TestClient]:
    head: LocalRayHead = request.getfixturevalue("ray_head")
    head.ensure_started()
    settings = make_settings(
        BACKEND,
        tmp_path / "home",
        request,
        reconcile_interval_seconds=HOUR,
        reconcile_wakeup=wakeup,
        **overrides,
    )
    with served_app(settings) as client:
        yield client


@pytest.fixture
def idle_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """No reconciler pass but those the test runs."""
    yield from _app(tmp_path, request, wakeup=False)


@pytest.fixture
def woken_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    yield from _app(tmp_path, request, wakeup=True)


def _runtime(client: TestClient) -> Runtime:
    return client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


def _workflow(client: TestClient) -> str:
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())})
    assert dataset.status_code == 201, dataset.text
    experiment = client.post(f"{API}/experiments/", json={"name": "fast", "dataset": dataset.json()["id"]})
    assert experiment.status_code == 201, experiment.text
    body = {
        "name": "fast",
        "experiment_id": experiment.json()["id"],
        "provider": "mock",
        "model": "mock",
        "metrics": ["rouge", "bleu"],
    }
    workflow = client.post(f"{API}/workflows/", json=body)
    assert workflow.status_code == 201, workflow.text
    return str(workflow.json()["id"])


Steps = tuple[WorkflowRecord, JobRecord | None, JobRecord | None]


def _one_pass(runtime: Runtime, workflow_id: str) -> Steps:
    """Run one reconciler pass; the workflow and its inference and evaluation jobs after it."""
    with runtime.session_factory() as session:
        box, signer = runtime.secret_box, runtime.link_signer
        Reconciler(session, runtime.store, runtime.clusters, runtime.settings, box, signer).tick()
    with runtime.session_factory(expire_on_commit=False) as session:
        workflow = session.get(WorkflowRecord, uuid.UUID(workflow_id))
        assert workflow is not None
        inference, evaluation = (
            session.get(JobRecord, job_id) if job_id else None
            for job_id in (workflow.inference_job_id, workflow.evaluation_job_id)
        )
        return workflow, inference, evaluation


def _wait_worker_done(runtime: Runtime, job: JobRecord) -> None:
    """Until the warm worker says the job ended, without a reconciler pass."""
    assert job.runner == POOL_RUNNER
    deadline = time.monotonic() + 180
    while True:
        with runtime.session_factory() as session:
            result = session.get(JobRecord, job.id).worker_result  # type: ignore[union-attr]
        if result is not None:
            break
        assert time.monotonic() < deadline, f"job {job.id} did not end"
        time.sleep(0.1)
    assert result["status"] == EngineStatus.SUCCEEDED, result


def test_each_step_is_created_and_submitted_in_the_pass_that_sees_the_previous_one_end(
    idle_app: TestClient,
) -> None:
    runtime = _runtime(idle_app)
    workflow_id = _workflow(idle_app)

    workflow, inference, evaluation = _one_pass(runtime, workflow_id)
    assert workflow.status == WorkflowStatus.RUNNING_INFERENCE
    assert inference is not None and inference.status != JobStatus.CREATED
    assert inference.submitted_at is not None and evaluation is None

    _wait_worker_done(runtime, inference)
    workflow, inference, evaluation = _one_pass(runtime, workflow_id)
    assert inference is not None and inference.status == JobStatus.SUCCEEDED
    assert workflow.status == WorkflowStatus.RUNNING_EVALUATION
    assert evaluation is not None and evaluation.status != JobStatus.CREATED
    assert evaluation.submitted_at is not None

    _wait_worker_done(runtime, evaluation)
    workflow, _, evaluation = _one_pass(runtime, workflow_id)
    assert evaluation is not None and evaluation.status == JobStatus.SUCCEEDED
    assert workflow.status == WorkflowStatus.SUCCEEDED, workflow.status_reason
    assert "rouge1_mean" in (workflow.metrics or {}) and "bleu_mean" in (workflow.metrics or {})


def test_a_request_wakes_the_reconciler_instead_of_waiting_for_its_tick(woken_app: TestClient) -> None:
    workflow_id = _workflow(woken_app)
    deadline = time.monotonic() + 240
    while (detail := _detail(woken_app, workflow_id))["status"] not in ("succeeded", "failed", "stopped"):
        assert time.monotonic() < deadline, detail
        time.sleep(0.2)
    assert detail["status"] == "succeeded", detail.get("status_reason")
    job = woken_app.post(
        f"{API}/jobs/script",
        json={"name": "woken", "job_config": {"job_type": "script", "argv": ["true"]}},
    )
    assert job.status_code == 201, job.text
    assert wait_for_status(woken_app, job.json()["id"], timeout=120)["status"] == "succeeded"


def _detail(client: TestClient, workflow_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{API}/projects/default/workflows/{workflow_id}").json()
    return body


def _inference(client: TestClient, dataset: str, **config: Any) -> str:
    job_config = {"job_type": "inference", "provider": "mock", "model": "{prompt}", **config}
    body = {"name": "warm", "dataset": dataset, "job_config": job_config}
    created = client.post(f"{API}/jobs/inference/", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _row(runtime: Runtime, job_id: str) -> JobRecord:
    with runtime.session_factory(expire_on_commit=False) as session:
        job = session.get(JobRecord, uuid.UUID(job_id))
        assert job is not None
        return job


def test_built_in_jobs_reuse_one_warm_worker_keep_their_logs_and_stop(woken_app: TestClient) -> None:
    runtime = _runtime(woken_app)
    dataset = woken_app.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]

    first, second = (_inference(woken_app, dataset) for _ in range(2))
    for job_id in (first, second):
        job = wait_for_status(woken_app, job_id, timeout=180)
        assert job["status"] == "succeeded", job.get("status_reason")
    rows = [_row(runtime, job_id) for job_id in (first, second)]
    assert all(row.runner == POOL_RUNNER for row in rows)
    assert rows[0].worker_id is not None and rows[0].worker_id == rows[1].worker_id
    logs = woken_app.get(f"{API}/jobs/{first}/logs").json()["logs"]
    assert f"job {first} (inference)" in logs and "finished" in logs
    assert "assay_job" not in logs  # no token of any kind in what is kept

    provider = OpenAIServer(latency_s=5.0).start()
    try:
        endpoint = {"provider": "openai-compatible", "model": "m", "base_url": provider.base_url}
        slow = _inference(woken_app, dataset, **endpoint, max_concurrency=1)
        deadline = time.monotonic() + 120
        while _row(runtime, slow).worker_id is None:
            assert time.monotonic() < deadline, "no worker took the slow job"
            time.sleep(0.1)
        assert woken_app.put(f"{API}/jobs/{slow}/stop").status_code == 200
        job = wait_for_status(woken_app, slow, timeout=60)
    finally:
        provider.stop()
    assert job["status"] == "stopped", job.get("status_reason")
    assert _row(runtime, slow).worker_id == rows[0].worker_id


def test_the_server_starts_a_warm_worker_before_any_work(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """So that a user's first workflow does not wait for it (``ASSAY_WARM_POOL_AT_START``), even
    with a reconciler that never ticks on its own."""
    for client in _app(tmp_path, request, wakeup=False, warm_pool_at_start=True):
        runtime = _runtime(client)
        deadline = time.monotonic() + 120
        while True:
            with runtime.session_factory() as session:
                workers = WarmWorkerRepository(session).all()
                states = [runtime.clusters.default.info(worker.id) for worker in workers]
            if [info.status for info in states if info is not None] == [EngineStatus.RUNNING]:
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.2)
        with runtime.session_factory() as session:
            assert session.query(JobRecord).count() == 0
