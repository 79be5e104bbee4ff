"""A model service whose weights are one of the project's files, on a real Ray head: a tiny
random causal LM, saved as a Hugging Face model folder and uploaded as a ``.tar.gz`` through
the files API, is served as ``file:models/tiny.tar.gz`` and answers through the gateway. The
entrypoint fetched it with the link of its one-time claim; that link is in none of what Ray
keeps nor in the service's logs."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from ray.job_submission import JobSubmissionClient

from assay.compute.local_ray import LocalRayHead
from assay.jobs.environment import SERVICE_CLAIM_ENV
from tests.backends import one_backend
from tests.helpers import save_tiny_gpt2
from tests.integration.accounts import error_field
from tests.integration.test_services import API, delete_service, wait_for
from tests.serving import server_url

pytest.importorskip("transformers", reason="the 'hf' extra (torch, transformers) is not installed")
pytestmark = pytest.mark.slow
MODEL = "file:models/tiny.tar.gz"
TEMPLATE = "{% for m in messages %}{{ m['content'] }} {% endfor %}"


@one_backend
def test_a_model_service_serves_weights_from_the_projects_files(
    client: TestClient, ray_head: LocalRayHead, tmp_path: Path
) -> None:
    ray_head.ensure_started()
    folder = tmp_path / "tiny"
    folder.mkdir()
    save_tiny_gpt2(folder, chat_template=TEMPLATE)
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="tiny")  # the folder itself, as `tar czf tiny.tar.gz tiny` makes
    data = archive.read_bytes()
    files = f"{API}/projects/default/files"
    uploaded = client.post(files, files={"file": ("tiny.tar.gz", data)}, data={"folder": "models"})
    assert uploaded.status_code == 201, uploaded.text

    base = f"{API}/projects/default/services"
    body = {"name": "tiny", "kind": "model", "model": MODEL, "engine": "transformers"}
    body["generation"] = {"max_new_tokens": 4}
    for wrong in ("file:models/absent.tar.gz", f"{MODEL}@2", "file:models/tiny.rar"):
        refused = client.post(base, json={**body, "model": wrong})
        assert refused.status_code == 422 and error_field(refused) == "model", refused.text
    created = client.post(base, json=body)
    assert created.status_code == 201, created.text
    pinned = created.json()["config"]["model_file"]
    assert pinned["version"] == 1 and pinned["sha256"] == hashlib.sha256(data).hexdigest()
    try:
        status = wait_for(client, f"{base}/tiny", {"running", "failed"}, timeout=120)
        assert status["status"] == "running", status
        proxy = f"{server_url(client)}{base}/tiny/proxy/v1"
        with httpx.Client(timeout=60) as web:
            models = web.get(f"{proxy}/models").json()
            assert [model["id"] for model in models["data"]] == [MODEL]
            question = {"model": MODEL, "messages": [{"role": "user", "content": "the cat sat"}]}
            chat = web.post(f"{proxy}/chat/completions", json=question)
        assert chat.status_code == 200, chat.text
        answer = chat.json()
        assert isinstance(answer["choices"][0]["message"]["content"], str)
        assert answer["model"] == MODEL and answer["usage"]["completion_tokens"] <= 4

        # What Ray keeps holds a spent claim token and no link; the logs no signature.
        service = client.get(f"{base}/tiny").json()
        dashboard = JobSubmissionClient(ray_head.dashboard_url, headers=ray_head.auth_headers())
        info = dashboard.get_job_info(f"{service['id']}-{service['generation']}-0-0")
        kept = json.dumps([info.runtime_env, info.metadata, info.entrypoint])
        assert "/api/v1/objects" not in kept and "signature" not in kept
        claim = info.runtime_env["env_vars"][SERVICE_CLAIM_ENV]
        again = client.post(f"{API}/job/service/secrets", headers={"Authorization": f"Bearer {claim}"})
        assert again.status_code == 401
        logs = client.get(f"{base}/tiny/logs").json()["logs"]
        assert "fetching the model file models/tiny.tar.gz v1" in logs and "signature=" not in logs
    finally:
        delete_service(client, f"{base}/tiny")
