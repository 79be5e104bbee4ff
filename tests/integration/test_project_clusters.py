"""A project bound to its own Ray cluster: its jobs run there, other projects' jobs on the
server's cluster, and a running job stays reachable after the binding changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ray.job_submission import JobSubmissionClient

from assay.compute.local_ray import LocalRayHead
from tests.backends import Backend, make_settings
from tests.integration.accounts import API
from tests.serving import served_app

pytestmark = pytest.mark.slow
TERMINAL = {"succeeded", "failed", "stopped"}


@pytest.fixture(scope="module")
def second_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayHead]:
    head = LocalRayHead(tmp_path_factory.mktemp("ray-team"), num_cpus=1)
    head.ensure_started()
    yield head
    head.stop()


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ray_head: LocalRayHead
) -> Iterator[TestClient]:
    ray_head.ensure_started()
    second: LocalRayHead = request.getfixturevalue("second_head")
    settings = make_settings(
        Backend("sqlite", "local"),
        Path(tmp_path_factory.mktemp("clusters")),
        request,
        ray_cluster_token_files={second.dashboard_url: second.token_path},
    )
    with served_app(settings) as client:
        yield client


def script(app: TestClient, project: str, name: str, code: str) -> str:
    body = {"name": name, "job_config": {"job_type": "script", "argv": ["python", "-c", code]}}
    created = app.post(f"{API}/projects/{project}/jobs/script", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def wait(
    app: TestClient, project: str, job_id: str, statuses: set[str], timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = app.get(f"{API}/projects/{project}/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.3)


def known_to(head: LocalRayHead, job_id: str) -> bool:
    try:
        JobSubmissionClient(head.dashboard_url, headers=head.auth_headers()).get_job_info(job_id)
    except RuntimeError:
        return False
    return True


def test_jobs_run_on_the_cluster_of_their_project(
    app: TestClient, ray_head: LocalRayHead, second_head: LocalRayHead
) -> None:
    assert app.post(f"{API}/projects", json={"name": "Team B"}).status_code == 201
    bound = app.patch(f"{API}/projects/team-b", json={"ray_address": second_head.dashboard_url})
    assert bound.status_code == 200, bound.text

    team_job = script(app, "team-b", "on-team-cluster", "print('team b here')")
    default_job = script(app, "default", "on-server-cluster", "print('default here')")
    for project, job_id in (("team-b", team_job), ("default", default_job)):
        finished = wait(app, project, job_id, TERMINAL)
        assert finished["status"] == "succeeded", finished
    assert known_to(second_head, team_job) and not known_to(ray_head, team_job)
    assert known_to(ray_head, default_job) and not known_to(second_head, default_job)
    assert "team b here" in app.get(f"{API}/projects/team-b/jobs/{team_job}/logs").json()["logs"]

    # Rebinding moves new jobs only: a running one is still polled and stopped where it runs.
    running = script(app, "team-b", "long", "import time; print('started', flush=True); time.sleep(120)")
    wait(app, "team-b", running, {"running"} | TERMINAL)
    assert app.patch(f"{API}/projects/team-b", json={"ray_address": None}).json()["ray_address"] is None
    assert app.put(f"{API}/projects/team-b/jobs/{running}/stop").status_code == 200
    assert wait(app, "team-b", running, TERMINAL, timeout=60)["status"] == "stopped"
    client = JobSubmissionClient(second_head.dashboard_url, headers=second_head.auth_headers())
    info = client.get_job_info(running)
    assert str(info.status.value) == "STOPPED"
    after = script(app, "team-b", "after-unbinding", "print('back home')")
    assert wait(app, "team-b", after, TERMINAL)["status"] == "succeeded"
    assert known_to(ray_head, after) and not known_to(second_head, after)
