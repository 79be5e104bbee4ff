"""Services on a real Ray head, reached through the gateway: one ``app`` service (the ASGI
app of ``tests/apps/echo_app.py``) serves a page, a WebSocket echo and a stream; roles hold;
Assay's credentials never reach it; a killed process comes back; a restarted API's reconciler
neither stops nor duplicates it."""

from __future__ import annotations

import hashlib
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
from ray.job_submission import JobSubmissionClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from assay.background import Reconcile
from assay.compute.local_ray import LocalRayHead
from assay.runtime import Runtime
from tests.backends import BACKENDS
from tests.integration.accounts import add_account, add_member, create_project
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
