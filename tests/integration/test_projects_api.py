"""Projects, members and roles, project deletion and the audit log, on every backend."""

from __future__ import annotations

import sys
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assay.compute.local_ray import LocalRayHead
from assay.records import DatasetRecord, FileRecord, ObjectCleanupRecord, SecretRecord
from assay.records.base import Base
from assay.repositories.projects import PROJECT_RESOURCES
from assay.runtime import Runtime
from tests.helpers import csv_bytes
from tests.integration.accounts import API, Account, add_account, add_member, create_project, error_field

SECRET = "sk-audit-must-never-show-this"


def test_create_derives_an_immutable_id_and_makes_the_creator_owner(client: TestClient) -> None:
    alice = add_account(client, "alice")
    created = client.post(
        f"{API}/projects", json={"name": "  Speech  to -- Text ", "description": "d"}, headers=alice.headers
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["id"], body["name"], body["role"]) == ("speech-to-text", "Speech  to -- Text", "owner")
    assert client.get(f"{API}/users/me", headers=alice.headers).json()["default_project"] == "speech-to-text"

    renamed = client.patch(f"{API}/projects/speech-to-text", json={"name": "Voice"}, headers=alice.headers)
    assert (renamed.json()["id"], renamed.json()["name"]) == ("speech-to-text", "Voice")
    assert client.get(f"{API}/projects/speech-to-text", headers=alice.headers).json()["name"] == "Voice"
    assert client.get(f"{API}/projects/voice", headers=alice.headers).status_code == 404


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ab", 422),
        ("x" * 36, 422),
        ("under_score", 422),
        ("émoji ✨", 422),
        ("- - -", 422),
        ("Admin", 409),
        ("API", 409),
        ("default", 409),
        ("Existing Lab", 409),
        ("existing   lab", 409),
    ],
)
def test_name_rules_and_reserved_ids(client: TestClient, name: str, status: int) -> None:
    create_project(client, "Existing Lab")
    response = client.post(f"{API}/projects", json={"name": name})
    assert response.status_code == status, response.text
    assert error_field(response) == "name"
    assert {project["id"] for project in client.get(f"{API}/projects").json()} == {"default", "existing-lab"}


def test_members_and_roles(client: TestClient) -> None:
    olivia, eddie, vera, nora = (add_account(client, name) for name in ("olivia", "eddie", "vera", "nora"))
    project = create_project(client, "Team Lab", olivia)
    add_member(client, project, eddie, "editor", olivia)
    add_member(client, project, vera, "viewer", olivia)
    assert client.get(f"{API}/users/me", headers=vera.headers).json()["default_project"] == project

    members = client.get(f"{API}/projects/{project}/members", headers=vera.headers).json()
    assert [(m["username"], m["role"]) for m in members] == [
        ("olivia", "owner"),
        ("eddie", "editor"),
        ("vera", "viewer"),
    ]
    assert [p["id"] for p in client.get(f"{API}/projects", headers=vera.headers).json()] == [project]
    assert client.get(f"{API}/projects", headers=nora.headers).json() == []
    assert {p["id"] for p in client.get(f"{API}/projects").json()} == {"default", project}

    for caller in (eddie, vera):
        refused = client.put(
            f"{API}/projects/{project}/members/nora", json={"role": "viewer"}, headers=caller.headers
        )
        assert refused.status_code == 403 and refused.json()["field"] == "project"
    hidden = client.get(f"{API}/projects/{project}/members", headers=nora.headers)
    assert hidden.status_code == 404 and hidden.json()["detail"] == f"project {project!r} not found"

    changed = client.put(
        f"{API}/projects/{project}/members/vera", json={"role": "editor"}, headers=olivia.headers
    )
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    unknown = client.put(
        f"{API}/projects/{project}/members/ghost", json={"role": "viewer"}, headers=olivia.headers
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "username"
    bad_role = client.put(
        f"{API}/projects/{project}/members/vera", json={"role": "god"}, headers=olivia.headers
    )
    assert bad_role.status_code == 422

    last_owner = client.put(
        f"{API}/projects/{project}/members/olivia", json={"role": "viewer"}, headers=olivia.headers
    )
    assert last_owner.status_code == 409
    assert (
        client.delete(f"{API}/projects/{project}/members/olivia", headers=olivia.headers).status_code == 409
    )
    add_member(client, project, eddie, "owner", olivia)
    assert client.delete(f"{API}/projects/{project}/members/olivia", headers=eddie.headers).status_code == 204
    assert client.get(f"{API}/projects/{project}", headers=olivia.headers).status_code == 404
    assert client.get(f"{API}/users/me", headers=olivia.headers).json()["default_project"] is None


def _fill(client: TestClient, project: str, owner: Account) -> str:
    """A dataset, two file versions and a secret in ``project``; returns the dataset id."""
    dataset = client.post(
        f"{API}/projects/{project}/datasets", files={"dataset": ("d.csv", csv_bytes())}, headers=owner.headers
    )
    for content in (b"v1", b"v2"):
        client.post(
            f"{API}/projects/{project}/files", files={"file": ("notes.txt", content)}, headers=owner.headers
        )
    client.put(
        f"{API}/projects/{project}/secrets/openai_api_key",
        json={"value": SECRET, "description": "k"},
        headers=owner.headers,
    )
    dataset_id: str = dataset.json()["id"]
    return dataset_id


def _count(runtime: Runtime, record: type[Base]) -> int:
    with runtime.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(record)) or 0)


def test_delete_refuses_a_project_with_resources_unless_forced(client: TestClient, runtime: Runtime) -> None:
    olivia, eddie = add_account(client, "olivia"), add_account(client, "eddie")
    project = create_project(client, "Doomed Lab", olivia)
    add_member(client, project, eddie, "editor", olivia)
    _fill(client, project, olivia)
    assert runtime.store.list(f"projects/{project}/")

    assert client.delete(f"{API}/projects/{project}", headers=eddie.headers).status_code == 403
    refused = client.delete(f"{API}/projects/{project}", headers=olivia.headers)
    assert refused.status_code == 409
    assert "1 datasets, 2 files, 1 secrets" in refused.json()["detail"]

    assert client.delete(f"{API}/projects/{project}?force=true", headers=olivia.headers).status_code == 204
    assert client.get(f"{API}/projects/{project}", headers=olivia.headers).status_code == 404
    assert runtime.store.list(f"projects/{project}/") == []
    assert [
        _count(runtime, record) for record in (DatasetRecord, FileRecord, SecretRecord, ObjectCleanupRecord)
    ] == [0, 0, 0, 0]
    events = client.get(f"{API}/audit", params={"limit": 1}).json()["items"]
    assert events[0]["action"] == "delete" and events[0]["resource_id"] == project
    assert events[0]["details"] == {"resources": {"datasets": 1, "files": 2, "secrets": 1}}

    again = create_project(client, "Doomed Lab", olivia)
    assert again == project and client.get(
        f"{API}/projects/{project}/files", headers=olivia.headers
    ).json() == {
        "total": 0,
        "items": [],
    }


def test_delete_waits_for_unfinished_jobs(client: TestClient, ray_head: LocalRayHead) -> None:
    """A real running job: the reconciler keeps its status honest, so no fake row would stay
    ``running`` long enough to test this."""
    ray_head.ensure_started()
    project = create_project(client, "Busy Lab")
    sleeper = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(300)"]
    job = client.post(
        f"{API}/projects/{project}/jobs/script",
        json={"name": "long", "job_config": {"argv": sleeper, "job_type": "script"}},
    ).json()
    deadline = time.monotonic() + 120
    while client.get(f"{API}/projects/{project}/jobs/{job['id']}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    refused = client.delete(f"{API}/projects/{project}?force=true")
    assert refused.status_code == 409 and "unfinished job" in refused.json()["detail"]
    assert client.get(f"{API}/projects/{project}").status_code == 200
    client.put(f"{API}/projects/{project}/jobs/{job['id']}/stop")
    deadline = time.monotonic() + 120
    while client.get(f"{API}/projects/{project}/jobs/{job['id']}").json()["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_the_default_project_cannot_be_deleted(client: TestClient) -> None:
    assert client.delete(f"{API}/projects/default?force=true").status_code == 409


def test_every_project_owned_table_goes_with_its_project() -> None:
    """A new table that belongs to projects must be deleted with them: listed in
    ``PROJECT_RESOURCES`` or removed by ``ON DELETE CASCADE``."""
    handled = set(PROJECT_RESOURCES)
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name == "projects" and table.name not in handled:
                assert key.ondelete in ("CASCADE", "SET NULL"), f"{table.name} would block deleting projects"


def test_audit_log_records_who_did_what_without_secret_values(client: TestClient) -> None:
    olivia, eddie = add_account(client, "olivia"), add_account(client, "eddie")
    project = create_project(client, "Audited Lab", olivia)
    add_member(client, project, eddie, "editor", olivia)
    dataset_id = _fill(client, project, eddie)
    client.delete(f"{API}/projects/{project}/datasets/{dataset_id}", headers=eddie.headers)
    client.delete(f"{API}/projects/{project}/files/other/notes.txt?keep=1", headers=eddie.headers)

    assert client.get(f"{API}/projects/{project}/audit", headers=eddie.headers).status_code == 403
    log = client.get(f"{API}/projects/{project}/audit", headers=olivia.headers)
    assert SECRET not in log.text
    events = [(e["actor"], e["action"], e["resource_type"], e["resource_id"]) for e in log.json()["items"]]
    assert events == [
        ("eddie", "delete", "file", "other/notes.txt"),
        ("eddie", "delete", "dataset", dataset_id),
        ("eddie", "create", "secret", "openai_api_key"),
        ("eddie", "create", "file", "other/notes.txt"),
        ("eddie", "create", "file", "other/notes.txt"),
        ("eddie", "create", "dataset", dataset_id),
        ("olivia", "add", "member", "eddie"),
        ("olivia", "create", "project", project),
    ]
    assert log.json()["total"] == 8
    assert log.json()["items"][0]["details"] == {"versions": [1]}
    page = client.get(
        f"{API}/projects/{project}/audit", params={"skip": 6, "limit": 5}, headers=olivia.headers
    )
    assert [e["action"] for e in page.json()["items"]] == ["add", "create"]
    assert client.get(f"{API}/audit", headers=olivia.headers).status_code == 403
    everything = client.get(f"{API}/audit").json()
    assert {e["resource_type"] for e in everything["items"]} >= {"user", "token", "project", "secret"}


def test_unknown_project_and_resource_ids(client: TestClient) -> None:
    assert client.get(f"{API}/projects/nope").status_code == 404
    assert client.get(f"{API}/projects/default/datasets/{uuid.uuid4()}").json()["field"] == "dataset_id"
