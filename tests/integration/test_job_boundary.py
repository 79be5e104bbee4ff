"""The compute boundary on a real Ray cluster: what a job receives, and what its credential
reaches. Jobs get an allow-listed environment and a claim token; their provider key, inputs and
outputs come through the internal job API, within the job's own keys only."""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from ray.job_submission import JobSubmissionClient

from assay.compute.local_ray import LocalRayHead
from assay.jobs.connection import connect
from assay.jobs.environment import API_URL_ENV, CLAIM_ENV, WORKER_ENV
from assay.records import JobRecord
from assay.runtime import Runtime
from assay.security.keys import load_master_key
from assay.services.job_credentials import JobCredentials
from assay.storage import StorageError
from assay.storage.job_api import SPOOL_MEMORY
from tests.helpers import csv_bytes
from tests.integration.accounts import create_project
from tests.integration.jobs_helpers import script_job, wait_for_status
from tests.openai_server import OpenAIServer, Rule

pytestmark = pytest.mark.slow
API = "/api/v1"
JOB_API = "/api/v1/job"
PROVIDER_KEY = "sk-boundary-provider-key-0123456789"
FAKE_SERVER_ENV = {
    "ASSAY_ADMIN_PASSWORD": "fake-admin-password-4242",
    "ASSAY_S3_SECRET_ACCESS_KEY": "fake-s3-secret-4242",
    "ASSAY_SECRET_KEY": "fake-master-key-4242-4242",
    "ASSAY_DATABASE_URL": "postgresql://fake:fake-db-password-4242@nowhere/db",
}
STARTED = "sleeper started"
SLEEPER = [sys.executable, "-c", f"import time; print({STARTED!r}, flush=True); time.sleep(300)"]


@pytest.fixture(autouse=True)
def _ray(ray_head: LocalRayHead, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own environment holds settings and secrets that jobs must never see."""
    ray_head.ensure_started()
    for name, value in FAKE_SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def provider() -> Iterator[OpenAIServer]:
    server = OpenAIServer(latency_s=0.0).start()
    server.control(rules=[Rule(reply="an answer")])
    yield server
    server.stop()


def server_secrets(runtime: Runtime) -> list[str]:
    settings = runtime.settings
    values = [PROVIDER_KEY, load_master_key(settings).decode(), *FAKE_SERVER_ENV.values()]
    if settings.s3_secret_access_key is not None:
        values.append(settings.s3_secret_access_key.get_secret_value())
    return values


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_engine_sees_no_job_credential_and_the_key_arrives_through_the_api(
    client: TestClient, runtime: Runtime, ray_head: LocalRayHead, provider: OpenAIServer
) -> None:
    secret = {"value": PROVIDER_KEY, "description": "provider key", "allowed_hosts": ["127.0.0.1"]}
    assert client.put(f"{API}/settings/secrets/provider_key", json=secret).status_code in (201, 204)
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("qa.csv", csv_bytes())}).json()["id"]
    request = {
        "name": "boundary",
        "dataset": dataset,
        "job_config": {
            "job_type": "inference",
            "provider": "openai-compatible",
            "model": "m",
            "base_url": provider.base_url,
            "secret_key_name": "provider_key",
        },
    }
    created = client.post(f"{API}/jobs/inference/", json=request)
    assert created.status_code == 201, created.text
    job = wait_for_status(client, created.json()["id"])
    logs = client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]
    assert job["status"] == "succeeded", logs
    assert set(provider.stats()["authorization"]) == {f"Bearer {PROVIDER_KEY}"}

    # A built-in job runs in the warm worker: what Ray shows is the worker's environment, with
    # the worker's token and no claim of any job.
    with runtime.session_factory() as session:
        worker_id = session.get(JobRecord, uuid.UUID(job["id"])).worker_id  # type: ignore[union-attr]
    assert worker_id is not None
    dashboard = JobSubmissionClient(ray_head.dashboard_url, headers=ray_head.auth_headers())
    info = dashboard.get_job_info(worker_id)
    env: dict[str, str] = info.runtime_env["env_vars"]
    assert {name for name in env if name.startswith("ASSAY_")} == {API_URL_ENV, WORKER_ENV}
    assert env["HF_HUB_OFFLINE"] == "1"
    shown = json.dumps([info.runtime_env, info.metadata, info.entrypoint])
    record = json.dumps(client.get(f"{API}/projects/default/jobs/{job['id']}").json())
    for value in server_secrets(runtime):
        assert value not in shown
        assert value not in logs and value not in record
    worker_token = env[WORKER_ENV]
    assert worker_token not in logs and worker_token not in record
    # The worker's token takes work and nothing else: no key, no object, no claim.
    as_worker = bearer(worker_token)
    assert client.get(f"{JOB_API}/secret", headers=as_worker).status_code == 401
    listing = client.get(f"{JOB_API}/objects", params={"prefix": "projects/"}, headers=as_worker)
    assert listing.status_code == 401
    assert client.post(f"{JOB_API}/claim", headers=as_worker).status_code == 401


def test_script_sees_none_of_the_servers_environment(client: TestClient, runtime: Runtime) -> None:
    code = "import json, os; print('ENV=' + json.dumps(dict(os.environ)))"
    job = script_job(client, "env-dump", [sys.executable, "-c", code], env={"OWN": "mine"})
    finished = wait_for_status(client, job["id"])
    logs = client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]
    assert finished["status"] == "succeeded", logs
    line = next(line for line in logs.splitlines() if line.startswith("ENV="))
    env = json.loads(line.removeprefix("ENV="))
    assert [name for name in env if name.upper().startswith("ASSAY_") or "RAY" in name.upper()] == []
    assert env["OWN"] == "mine" and env["HF_HUB_OFFLINE"] == "1" and "PATH" in env
    for value in server_secrets(runtime):
        assert value not in logs


@pytest.fixture
def job_claim(client: TestClient, runtime: Runtime) -> Iterator[tuple[dict[str, Any], str]]:
    """A running job and a fresh claim token for it, as the reconciler would give it."""
    job = script_job(client, "scoped", SLEEPER)
    wait_for_status(client, job["id"], {"running"})
    # Its command prints once the entrypoint has claimed the job's own credential, which the
    # fresh claim below replaces: minted earlier, it would make the job's own claim fail.
    deadline = time.monotonic() + 120
    while STARTED not in client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]:
        assert time.monotonic() < deadline, "the job did not start its command"
        time.sleep(0.3)
    with runtime.session_factory() as session:
        claim = JobCredentials(session).mint(uuid.UUID(job["id"]))
        session.commit()
    yield job, claim
    client.put(f"{API}/jobs/{job['id']}/stop")
    wait_for_status(client, job["id"])


@pytest.fixture
def running_job(client: TestClient, job_claim: tuple[dict[str, Any], str]) -> tuple[dict[str, Any], str]:
    """The job and its session token, traded for the claim as a job would (once only)."""
    job, claim = job_claim
    claimed = client.post(f"{JOB_API}/claim", headers=bearer(claim))
    assert claimed.status_code == 200, claimed.text
    assert client.post(f"{JOB_API}/claim", headers=bearer(claim)).status_code == 401
    return job, str(claimed.json()["token"])


def test_a_job_token_reaches_exactly_the_jobs_own_objects(
    client: TestClient, runtime: Runtime, running_job: tuple[dict[str, Any], str]
) -> None:
    job, token = running_job
    auth = bearer(token)
    results = f"projects/default/jobs/{job['id']}/results/"
    config_key = f"projects/default/jobs/{job['id']}/config.json"
    other_job = script_job(client, "other", SLEEPER)
    create_project(client, "elsewhere")
    for key in (
        f"projects/default/jobs/{other_job['id']}/results/summary.json",
        "projects/elsewhere/inference-cache/x/runs/r.jsonl",
        "projects/elsewhere/datasets/d/dataset.parquet",
    ):
        writer = runtime.store.open_writer(key)
        writer.write(b"private")
        writer.commit()
        assert client.get(f"{JOB_API}/objects/{key}", headers=auth).status_code == 403
        assert client.put(f"{JOB_API}/objects/{key}", headers=auth, content=b"x").status_code == 403
    # Dots encoded, so that the client sends them as they are instead of resolving them.
    for escape in (
        f"{results}%2E%2E/config.json",
        f"{results}%2E%2E/%2E%2E/{other_job['id']}/results/summary.json",
    ):
        assert client.get(f"{JOB_API}/objects/{escape}", headers=auth).status_code == 403
    for prefix in ("projects/", "projects/default/", f"projects/default/jobs/{other_job['id']}/results/"):
        assert client.get(f"{JOB_API}/objects", params={"prefix": prefix}, headers=auth).status_code == 403
        assert client.delete(f"{JOB_API}/objects", params={"prefix": prefix}, headers=auth).status_code == 403

    document = client.get(f"{JOB_API}/objects/{config_key}", headers=auth)
    assert document.status_code == 200 and document.json()["job_id"] == job["id"]
    assert client.put(f"{JOB_API}/objects/{config_key}", headers=auth, content=b"{}").status_code == 403
    assert client.get(f"{JOB_API}/objects/{results}missing", headers=auth).status_code == 404
    assert client.get(f"{JOB_API}/secret", headers=auth).status_code == 404

    written = client.put(f"{JOB_API}/objects/{results}out.bin", headers=auth, content=bytes(range(256)) * 10)
    assert written.status_code == 201 and written.json()["size"] == 2560
    ranged = client.get(f"{JOB_API}/objects/{results}out.bin", headers={**auth, "Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == bytes(range(10, 20))
    assert ranged.headers["content-range"] == "bytes 10-19/2560"
    listing = client.get(f"{JOB_API}/objects", params={"prefix": results}, headers=auth).json()
    assert listing["items"] == [{"key": f"{results}out.bin", "size": 2560}]
    assert client.delete(f"{JOB_API}/objects", params={"prefix": results}, headers=auth).json() == {
        "deleted": 1
    }
    client.put(f"{API}/jobs/{other_job['id']}/stop")
    wait_for_status(client, other_job["id"])


def test_tokens_die_with_the_job_and_are_needed_everywhere(
    client: TestClient, running_job: tuple[dict[str, Any], str]
) -> None:
    job, token = running_job
    config_key = f"projects/default/jobs/{job['id']}/config.json"
    assert client.head(f"{JOB_API}/objects/{config_key}", headers=bearer(token)).status_code == 200
    for headers in ({}, bearer("assay_jobsession_made-up"), {"Authorization": f"Basic {token}"}):
        assert client.get(f"{JOB_API}/objects/{config_key}", headers=headers).status_code == 401
        assert client.get(f"{JOB_API}/secret", headers=headers).status_code == 401
    # A user's credentials are no job credential, and a job token is no user credential.
    assert client.get(f"{JOB_API}/objects/{config_key}").status_code == 401

    assert client.put(f"{API}/jobs/{job['id']}/stop").status_code == 200
    # A stopping job may still save what it has done; once it has ended, nothing.
    assert client.head(f"{JOB_API}/objects/{config_key}", headers=bearer(token)).status_code == 200
    wait_for_status(client, job["id"])
    assert client.get(f"{JOB_API}/objects/{config_key}", headers=bearer(token)).status_code == 401


def test_finished_job_tokens_are_refused(client: TestClient, runtime: Runtime) -> None:
    job = script_job(client, "quick", [sys.executable, "-c", "print('done')"])
    assert wait_for_status(client, job["id"])["status"] == "succeeded"
    with runtime.session_factory() as session:
        claim = JobCredentials(session).mint(uuid.UUID(job["id"]))
        session.commit()
    assert client.post(f"{JOB_API}/claim", headers=bearer(claim)).status_code == 401


def test_job_api_is_served_on_the_configured_url(client: TestClient, runtime: Runtime) -> None:
    """Jobs reach the API by URL: the test app listens on a real socket there."""
    url = runtime.settings.resolved_job_api_url
    assert httpx.post(f"{url}{JOB_API}/claim").status_code == 401


def test_the_job_store_satisfies_the_object_store_contract(
    runtime: Runtime, job_claim: tuple[dict[str, Any], str]
) -> None:
    job, claim = job_claim
    environ = {API_URL_ENV: runtime.settings.resolved_job_api_url, CLAIM_ENV: claim}
    connection = connect(environ)
    assert connection is not None and CLAIM_ENV not in environ
    store = connection.store
    results = f"projects/default/jobs/{job['id']}/results/"
    expected = random.Random(7).randbytes(3 * SPOOL_MEMORY // 2)
    writer = store.open_writer(f"{results}big.bin")
    for start in range(0, len(expected), 100_003):
        writer.write(memoryview(expected)[start : start + 100_003])
    assert writer.commit().size == len(expected) == store.stat(f"{results}big.bin").size
    assert runtime.store.stat(f"{results}big.bin").size == len(expected)
    assert b"".join(store.iter_chunks(f"{results}big.bin")) == expected
    with store.open_reader(f"{results}big.bin") as reader:
        reader.seek(SPOOL_MEMORY - 3)
        assert reader.read(10) == expected[SPOOL_MEMORY - 3 : SPOOL_MEMORY + 7]
    dropped = store.open_writer(f"{results}dropped.bin")
    dropped.write(b"never")
    dropped.abort()
    assert [info.key for info in store.list(results)] == [f"{results}big.bin"]
    with pytest.raises(KeyError):
        store.stat(f"{results}dropped.bin")
    with pytest.raises(StorageError):
        store.list("projects/")
    assert store.delete_prefix(results) == 1
    assert connection.api_key() is None
    store.check()
