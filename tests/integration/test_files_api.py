"""Versioned project files on every backend: versions, downloads, pruning, failures, races."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assay.records import FileRecord, ObjectCleanupRecord
from assay.runtime import Runtime
from tests.integration.accounts import API, add_account, add_member, create_project, error_field

FILES = f"{API}/projects/default/files"


def put(client: TestClient, filename: str, content: bytes, **fields: str) -> httpx.Response:
    return client.post(FILES, files={"file": (filename, content)}, data=fields)


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.session_factory() as session:
        files = session.scalar(select(func.count()).select_from(FileRecord))
        cleanups = session.scalar(select(func.count()).select_from(ObjectCleanupRecord))
    return int(files or 0), int(cleanups or 0)


def test_uploads_of_one_name_become_versions_with_metadata(client: TestClient) -> None:
    first = put(client, "weights.bin", b"first", folder="models")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["folder"], body["name"], body["version"], body["size"]) == ("models", "weights.bin", 1, 5)
    assert body["sha256"] == hashlib.sha256(b"first").hexdigest()
    assert body["uploaded_by"] == "admin" and body["project_id"] == "default" and body["created_at"]
    assert body["content_type"] == "application/octet-stream"

    second = put(client, "weights.bin", b"second!", folder="models").json()
    assert second["version"] == 2 and second["size"] == 7
    other = put(client, "weights.bin", b"elsewhere").json()
    assert (other["folder"], other["version"]) == ("other", 1)

    latest = client.get(f"{FILES}/models/weights.bin").json()
    assert latest["version"] == 2 and latest["sha256"] == hashlib.sha256(b"second!").hexdigest()
    assert client.get(f"{FILES}/models/weights.bin", params={"version": 1}).json()["size"] == 5
    assert [v["version"] for v in client.get(f"{FILES}/models/weights.bin/versions").json()] == [2, 1]


def test_listing_shows_the_newest_versions_or_all(client: TestClient) -> None:
    for name, folder in (("a.txt", "other"), ("a.txt", "other"), ("b.txt", "other"), ("c.csv", "datasets")):
        put(client, name, name.encode(), folder=folder)
    latest = client.get(FILES).json()
    assert latest["total"] == 3
    assert [(i["folder"], i["name"], i["version"]) for i in latest["items"]] == [
        ("datasets", "c.csv", 1),
        ("other", "a.txt", 2),
        ("other", "b.txt", 1),
    ]
    everything = client.get(FILES, params={"all_versions": True}).json()
    assert [(i["name"], i["version"]) for i in everything["items"]] == [
        ("c.csv", 1),
        ("a.txt", 2),
        ("a.txt", 1),
        ("b.txt", 1),
    ]
    in_other = client.get(FILES, params={"folder": "other", "skip": 1, "limit": 1}).json()
    assert in_other["total"] == 2 and [i["name"] for i in in_other["items"]] == ["b.txt"]
    assert client.get(FILES, params={"folder": "secrets"}).status_code == 422


def test_download_streams_the_chosen_version(client: TestClient) -> None:
    name = "résumé «final».txt"
    put(client, name, b"old text")
    put(client, name, "new text ✓".encode())
    latest = client.get(f"{FILES}/other/{name}/content")
    assert latest.status_code == 200 and latest.content == "new text ✓".encode()
    assert latest.headers["content-type"].startswith("text/plain")
    assert latest.headers["etag"] == f'"{hashlib.sha256(latest.content).hexdigest()}"'
    assert latest.headers["x-assay-file-version"] == "2"
    assert latest.headers["x-content-type-options"] == "nosniff"
    assert latest.headers["content-disposition"].startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in latest.headers["content-disposition"]
    assert client.get(f"{FILES}/other/{name}/content", params={"version": 1}).content == b"old text"
    missing = client.get(f"{FILES}/other/{name}/content", params={"version": 3})
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    assert client.get(f"{FILES}/other/nothing.txt/content").status_code == 404


def test_a_multi_part_upload_keeps_every_byte(client: TestClient) -> None:
    """Larger than a multipart read block and than an S3 part, so both paths are taken."""
    content = os.urandom(17 * 1024 * 1024 + 3)
    body = put(client, "big.bin", content, folder="models").json()
    assert body["size"] == len(content) and body["sha256"] == hashlib.sha256(content).hexdigest()
    assert client.get(f"{FILES}/models/big.bin/content").content == content


def test_delete_all_but_the_newest_k_then_everything(client: TestClient, runtime: Runtime) -> None:
    ids = [put(client, "log.txt", f"run {i}".encode()).json()["id"] for i in range(4)]
    response = client.delete(f"{FILES}/other/log.txt", params={"keep": 2})
    assert response.status_code == 200 and response.json() == {"deleted_versions": [2, 1]}
    assert [v["version"] for v in client.get(f"{FILES}/other/log.txt/versions").json()] == [4, 3]
    for file_id in ids[:2]:
        assert runtime.store.list(f"projects/default/files/{file_id}/") == []
    assert client.get(f"{FILES}/other/log.txt/content", params={"version": 3}).content == b"run 2"
    assert client.delete(f"{FILES}/other/log.txt", params={"keep": 5}).json() == {"deleted_versions": []}

    assert client.delete(f"{FILES}/other/log.txt").json() == {"deleted_versions": [4, 3]}
    assert client.get(f"{FILES}/other/log.txt").status_code == 404
    assert client.delete(f"{FILES}/other/log.txt").status_code == 404
    assert runtime.store.list("projects/default/files/") == []
    assert counts(runtime) == (0, 0)
    assert put(client, "log.txt", b"again").json()["version"] == 1


@pytest.mark.parametrize(
    ("fields", "filename", "field"),
    [
        ({"folder": "secrets"}, "x.txt", "folder"),
        ({"name": "a/b.txt"}, "x.txt", "name"),
        ({"name": ".."}, "x.txt", "name"),
        ({"name": " padded"}, "x.txt", "name"),
        ({"name": "x" * 256}, "x.txt", "name"),
        ({"name": "tab\there.txt"}, "x.txt", "name"),
    ],
)
def test_bad_placement_is_422_and_leaves_nothing(
    client: TestClient, runtime: Runtime, fields: dict[str, str], filename: str, field: str
) -> None:
    response = put(client, filename, b"content", **fields)
    assert response.status_code == 422 and error_field(response) == field
    assert runtime.store.list("projects/") == []
    assert counts(runtime) == (0, 0)


def test_over_the_size_limit_is_413_and_leaves_nothing(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_file_bytes", 1000)
    response = put(client, "big.bin", b"x" * 1001)
    assert response.status_code == 413 and response.json()["field"] == "file"
    assert runtime.store.list("projects/") == []
    assert counts(runtime) == (0, 0)
    assert put(client, "fits.bin", b"x" * 1000).status_code == 201


def test_not_multipart_is_refused(client: TestClient) -> None:
    raw = client.post(FILES, content=b"raw", headers={"content-type": "application/octet-stream"})
    assert raw.status_code == 415 and raw.json()["field"] == "Content-Type"
    assert client.post(FILES, json={"file": "x"}).status_code == 422
    assert client.post(FILES, files={"other": ("x.txt", b"x")}).json()["field"] == "file"


def test_twenty_parallel_uploads_of_one_name_get_versions_1_to_20(client: TestClient) -> None:
    contents = [f"upload number {i}\n".encode() * (i + 1) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda content: put(client, "shared.txt", content), contents))
    assert [response.status_code for response in responses] == [201] * 20
    version_of = {response.json()["sha256"]: response.json()["version"] for response in responses}
    assert sorted(version_of.values()) == list(range(1, 21))
    for content in contents:
        version = version_of[hashlib.sha256(content).hexdigest()]
        download = client.get(f"{FILES}/other/shared.txt/content", params={"version": version})
        assert download.content == content
    assert client.get(f"{FILES}/other/shared.txt").json()["version"] == 20


def test_viewers_read_and_editors_write(client: TestClient) -> None:
    olivia, eddie, vera = (add_account(client, name) for name in ("olivia", "eddie", "vera"))
    project = create_project(client, "File Lab", olivia)
    add_member(client, project, eddie, "editor", olivia)
    add_member(client, project, vera, "viewer", olivia)
    files = f"{API}/projects/{project}/files"
    upload = {"file": ("w.bin", b"w")}
    assert client.post(files, files=upload, headers=eddie.headers).json()["uploaded_by"] == "eddie"
    assert client.post(files, files=upload, headers=vera.headers).status_code == 403
    assert client.get(f"{files}/other/w.bin/content", headers=vera.headers).content == b"w"
    assert client.delete(f"{files}/other/w.bin", headers=vera.headers).status_code == 403
    assert client.delete(f"{files}/other/w.bin", headers=eddie.headers).status_code == 200
