"""Who may run code: a permission administrators grant, and the cluster a project runs on,
which only administrators choose."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.integration.accounts import API, Account, add_account, create_project

SCRIPT = {"name": "probe", "job_config": {"job_type": "script", "argv": ["python", "-c", "print(1)"]}}


def submit(client: TestClient, account: Account, project: str, native: bool) -> Any:
    if native:
        return client.post(f"{API}/projects/{project}/jobs/script", json=SCRIPT, headers=account.headers)
    headers = {**account.headers, "X-Assay-Project": project}
    return client.post(f"{API}/jobs/script", json=SCRIPT, headers=headers)


def test_script_jobs_need_the_permission_an_admin_grants(client: TestClient) -> None:
    """Owning a project one created is not enough; the grant is, and a revoke takes it away."""
    olivia = add_account(client, "olivia")
    project = create_project(client, "Own Lab", olivia)
    assert client.get(f"{API}/users/me", headers=olivia.headers).json()["can_run_code"] is False
    for native in (True, False):
        refused = submit(client, olivia, project, native)
        assert refused.status_code == 403, refused.text
        assert "administrator must grant" in refused.json()["detail"]
        assert refused.json()["field"] == "job_config.job_type"
    remote_code = {
        "name": "remote-code",
        "job_config": {"job_type": "inference", "provider": "hf", "model": "m", "trust_remote_code": True},
    }
    refused = client.post(
        f"{API}/projects/{project}/jobs/inference", json=remote_code, headers=olivia.headers
    )
    assert refused.status_code == 403 and refused.json()["field"] == "job_config.trust_remote_code"
    assert client.get(f"{API}/projects/{project}/jobs", headers=olivia.headers).json()["total"] == 0

    cannot_self_grant = client.patch(f"{API}/users/me", json={"can_run_code": True}, headers=olivia.headers)
    assert cannot_self_grant.status_code == 403

    granted = client.patch(f"{API}/users/olivia", json={"can_run_code": True})
    assert granted.status_code == 200 and granted.json()["can_run_code"] is True
    assert client.get(f"{API}/users/me", headers=olivia.headers).json()["can_run_code"] is True
    for native in (True, False):
        assert submit(client, olivia, project, native).status_code == 201

    assert client.patch(f"{API}/users/olivia", json={"can_run_code": False}).json()["can_run_code"] is False
    assert submit(client, olivia, project, True).status_code == 403

    listing = {user["username"]: user["can_run_code"] for user in client.get(f"{API}/users").json()}
    assert listing == {"admin": True, "olivia": False}
    events = client.get(f"{API}/audit", params={"limit": 1000}).json()["items"]
    changes = [(e["action"], e["actor"]) for e in events if e["resource_type"] == "code_permission"]
    assert sorted(changes) == [("grant", "admin"), ("revoke", "admin")]


def test_admin_can_create_a_user_who_may_run_code(client: TestClient) -> None:
    created = client.post(f"{API}/users", json={"username": "runner", "can_run_code": True})
    assert created.status_code == 201 and created.json()["can_run_code"] is True


def test_embedded_mode_runs_scripts_as_the_local_admin(client: TestClient) -> None:
    assert client.post(f"{API}/jobs/script", json=SCRIPT).status_code == 201


def test_only_admins_bind_a_project_to_a_cluster(client: TestClient) -> None:
    olivia = add_account(client, "olivia")
    project = create_project(client, "Own Lab", olivia)
    url = f"{API}/projects/{project}"
    refused = client.patch(url, json={"ray_address": "http://10.0.0.9:8265"}, headers=olivia.headers)
    assert refused.status_code == 403 and refused.json()["field"] == "ray_address"
    assert client.get(url, headers=olivia.headers).json()["ray_address"] is None
    for bad in ("10.0.0.9:8265", "ftp://head:8265", "http://user:pw@head:8265", "http://head:99999"):
        malformed = client.patch(url, json={"ray_address": bad})
        assert malformed.status_code == 422, bad
        assert malformed.json()["detail"][0]["loc"][-1] == "ray_address"
    bound = client.patch(url, json={"ray_address": "http://10.0.0.9:8265/"})
    assert bound.status_code == 200 and bound.json()["ray_address"] == "http://10.0.0.9:8265"
    renamed = client.patch(url, json={"name": "Own Lab Two"}, headers=olivia.headers)
    assert renamed.status_code == 200 and renamed.json()["ray_address"] == "http://10.0.0.9:8265"
    assert client.patch(url, json={"ray_address": None}, headers=olivia.headers).status_code == 403
    assert client.patch(url, json={"ray_address": None}).json()["ray_address"] is None
