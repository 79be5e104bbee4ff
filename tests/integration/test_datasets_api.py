"""Dataset routes on every backend combination: Lumigator shapes, validation, cleanup."""

from __future__ import annotations

import hashlib
import io
import uuid

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from lumigator_schemas.extras import ListingResponse
from lumigator_sdk.strict_schemas import DatasetDownloadResponse, DatasetResponse
from sqlalchemy import func, select

from assay.records import DatasetRecord, ObjectCleanupRecord
from assay.runtime import Runtime
from tests.helpers import FILES, ROWS, csv_bytes

API = "/api/v1"


def upload(client: TestClient, name: str, content: bytes, **fields: str) -> httpx.Response:
    return client.post(
        f"{API}/datasets/", files={"dataset": (name, content)}, data={"format": "job", **fields}
    )


def table_counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.session_factory() as session:
        datasets = session.scalar(select(func.count()).select_from(DatasetRecord))
        cleanups = session.scalar(select(func.count()).select_from(ObjectCleanupRecord))
    return int(datasets or 0), int(cleanups or 0)


def fetch(client: TestClient, url: str) -> bytes:
    """Download a link as a client would: API links through the app, S3 links directly."""
    response = client.get(url) if url.startswith(str(client.base_url)) else httpx.get(url)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_upload_each_format_is_lumigator_shaped(client: TestClient, runtime: Runtime, kind: str) -> None:
    content = FILES[kind]()
    response = upload(client, f"sample.{kind}", content)
    assert response.status_code == 201, response.text
    body = response.json()
    dataset = DatasetResponse.model_validate(body)
    assert dataset.filename == f"sample.{kind}"
    assert dataset.size == len(content)
    assert dataset.ground_truth is True
    assert dataset.generated is False and dataset.run_id is None

    detail = client.get(f"{API}/projects/default/datasets/{dataset.id}").json()
    assert detail["row_count"] == 3
    assert detail["source_format"] == kind
    assert [column["name"] for column in detail["columns"]] == ["examples", "ground_truth", "lang"]


def test_csv_round_trip_through_download_links(client: TestClient) -> None:
    content = csv_bytes()
    dataset_id = upload(client, "trip.csv", content).json()["id"]

    links = DatasetDownloadResponse.model_validate(client.get(f"{API}/datasets/{dataset_id}/download").json())
    assert len(links.download_urls) == 2
    csv_only = client.get(f"{API}/datasets/{dataset_id}/download", params={"extension": "CSV"}).json()
    assert len(csv_only["download_urls"]) == 1
    assert fetch(client, csv_only["download_urls"][0]) == content

    parquet_url = client.get(f"{API}/datasets/{dataset_id}/download?extension=parquet").json()[
        "download_urls"
    ][0]
    table = pq.read_table(io.BytesIO(fetch(client, parquet_url)))
    assert table.to_pylist() == ROWS


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_text_originals_are_kept_compressed_and_served_as_uploaded(
    client: TestClient, runtime: Runtime, kind: str
) -> None:
    rows = [{"examples": f"the same words again, row {i}", "ground_truth": "again"} for i in range(3000)]
    content = FILES[kind](rows)
    dataset_id = upload(client, f"big.{kind}", content).json()["id"]
    with runtime.session_factory() as session:
        record = session.get(DatasetRecord, uuid.UUID(dataset_id))
        assert record is not None
        original_key = record.original_key
    stored = runtime.store.stat(original_key).size
    if kind == "parquet":
        assert not original_key.endswith(".zst") and stored == len(content)
    else:
        assert original_key.endswith(f"big.{kind}.zst") and stored < len(content) / 5

    links = client.get(f"{API}/datasets/{dataset_id}/download", params={"extension": kind}).json()
    (url,) = [url for url in links["download_urls"] if f"big.{kind}" in url]
    assert fetch(client, url) == content


def test_rows_preview_pages(client: TestClient) -> None:
    rows = [{"examples": f"text {i}", "ground_truth": f"gt {i}"} for i in range(250)]
    dataset_id = upload(client, "many.csv", csv_bytes(rows)).json()["id"]
    page = client.get(
        f"{API}/projects/default/datasets/{dataset_id}/rows", params={"offset": 240, "limit": 20}
    )
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 250
    assert body["columns"] == ["examples", "ground_truth"]
    assert body["rows"] == rows[240:]


def test_listing_has_real_total_and_paging(client: TestClient) -> None:
    ids = [upload(client, f"d{i}.csv", csv_bytes()).json()["id"] for i in range(3)]
    listing = ListingResponse[DatasetResponse].model_validate(client.get(f"{API}/datasets").json())
    assert listing.total == 3
    assert {str(item.id) for item in listing.items} == set(ids)
    page = client.get(f"{API}/datasets/", params={"skip": 1, "limit": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert client.get(f"{API}/datasets/", params={"limit": 0}).status_code == 422


def test_the_uploaded_bytes_hash_finds_a_dataset_again(client: TestClient) -> None:
    data = csv_bytes()
    first, again = (upload(client, name, data).json()["id"] for name in ("a.csv", "b.csv"))
    other = upload(client, "c.csv", csv_bytes([{"examples": "other"}])).json()["id"]
    digest = hashlib.sha256(data).hexdigest()
    native = f"{API}/projects/default/datasets"
    assert client.get(f"{native}/{first}").json()["sha256"] == digest
    found = client.get(native, params={"sha256": digest}).json()
    assert found["total"] == 2 and {item["id"] for item in found["items"]} == {first, again}
    assert other not in str(found)
    refused = client.get(native, params={"sha256": "ABC"})
    assert refused.status_code == 422 and "sha256" in refused.json()["detail"][0]["loc"]


def test_ground_truth_flag_needs_every_row(client: TestClient) -> None:
    rows = [{"examples": "a", "ground_truth": "x"}, {"examples": "b", "ground_truth": "   "}]
    assert upload(client, "blank.csv", csv_bytes(rows)).json()["ground_truth"] is False
    no_column = upload(client, "none.csv", b"examples\nhello\n").json()
    assert no_column["ground_truth"] is False


def test_form_fields_are_recorded(client: TestClient) -> None:
    run_id = str(uuid.uuid4())
    body = upload(client, "gen.csv", csv_bytes(), run_id=run_id, generated="true", generated_by="bart").json()
    assert body["run_id"] == run_id and body["generated"] is True and body["generated_by"] == "bart"


def test_delete_removes_row_and_objects(client: TestClient, runtime: Runtime) -> None:
    dataset_id = upload(client, "gone.csv", csv_bytes()).json()["id"]
    prefix = f"projects/default/datasets/{dataset_id}/"
    assert len(runtime.store.list(prefix)) == 2
    assert client.delete(f"{API}/datasets/{dataset_id}").status_code == 204
    assert runtime.store.list(prefix) == []
    assert table_counts(runtime) == (0, 0)
    assert client.get(f"{API}/datasets/{dataset_id}").status_code == 404
    assert client.delete(f"{API}/datasets/{dataset_id}").status_code == 404


BAD_FILES = [
    ("missing.csv", b"text,ground_truth\nhello,hi\n", "required column 'examples' is missing"),
    ("dupes.csv", b"examples,examples\na,b\n", "duplicate column names: examples"),
    ("latin1.csv", "examples\ncafé\n".encode("latin-1"), "not UTF-8"),
    ("latin1.jsonl", '{"examples": "café"}\n'.encode("latin-1"), "not UTF-8"),
    ("empty.csv", b"", "file is empty"),
    ("header.csv", b"examples,ground_truth\n", "no rows"),
    ("ragged.csv", b"examples,x\na,b,c\n", "cannot parse the CSV file"),
    ("broken.jsonl", b'{"examples": "a"}\n{not json\n', "cannot parse the JSONL file"),
    ("broken.parquet", b"PAR1 not really parquet", "cannot parse the PARQUET file"),
    ("notes.txt", b"examples\na\n", "no supported extension"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_files_are_422_and_leave_nothing(
    client: TestClient, runtime: Runtime, name: str, content: bytes, message: str
) -> None:
    response = upload(client, name, content)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert response.json()["field"] == "dataset"
    assert runtime.store.list("projects/") == []
    assert table_counts(runtime) == (0, 0)


def test_bad_form_fields_are_422_naming_the_field(client: TestClient, runtime: Runtime) -> None:
    response = upload(client, "ok.csv", csv_bytes(), format="xml")
    assert response.status_code == 422
    assert response.json()["field"] == "format"
    response = upload(client, "ok.csv", csv_bytes(), run_id="not-a-uuid")
    assert response.json()["field"] == "run_id"
    assert runtime.store.list("projects/") == []
    assert table_counts(runtime) == (0, 0)


def test_missing_file_field_and_wrong_content_type(client: TestClient) -> None:
    response = client.post(
        f"{API}/datasets/", data={"format": "job"}, files={"other": ("x.csv", b"examples\na\n")}
    )
    assert response.status_code == 422 and response.json()["field"] == "dataset"
    response = client.post(f"{API}/datasets/", json={"dataset": "examples\na\n"})
    assert response.status_code == 422 and "multipart/form-data" in response.json()["detail"]


def test_over_the_size_limit_is_413(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_dataset_bytes", 1024)
    big = csv_bytes([{"examples": "x" * 100, "ground_truth": "y"}] * 50)
    response = upload(client, "big.csv", big)
    assert response.status_code == 413
    assert "larger than the limit of 1024 bytes" in response.json()["detail"]
    assert runtime.store.list("projects/") == []
    assert table_counts(runtime) == (0, 0)


def test_unknown_ids_and_projects(client: TestClient) -> None:
    assert client.get(f"{API}/datasets/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{API}/datasets/not-a-uuid").status_code == 422
    assert client.get(f"{API}/projects/nope/datasets").status_code == 404
    assert client.get(f"{API}/datasets", headers={"X-Assay-Project": "nope"}).status_code == 404


def test_collection_paths_answer_with_and_without_slash(client: TestClient) -> None:
    for path in (f"{API}/datasets", f"{API}/datasets/", f"{API}/health", f"{API}/health/"):
        assert client.get(path, follow_redirects=False).status_code == 200


def test_signed_links_refuse_tampering(client: TestClient, runtime: Runtime) -> None:
    dataset_id = upload(client, "signed.csv", csv_bytes()).json()["id"]
    record_key = f"projects/default/datasets/{dataset_id}/dataset.parquet"
    query = runtime.link_signer.query(record_key, "dataset.parquet", 60)
    assert client.get(f"{API}/objects?{query}").status_code == 200
    assert client.get(f"{API}/objects?{query.replace('dataset.parquet', 'other.parquet')}").status_code == 404
    expired = runtime.link_signer.query(record_key, "dataset.parquet", -1)
    assert client.get(f"{API}/objects?{expired}").status_code == 404
