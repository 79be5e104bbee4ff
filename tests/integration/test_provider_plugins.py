"""A provider from another package (``tests/plugins/shout.py``) registered through the public
API: its own options are validated when the job is created (a bad one is a 422 naming the
field) and reach the real worker, which imports the class the API resolved."""

from __future__ import annotations

import uuid

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from assay.compute.local_ray import LocalRayHead
from assay.records import JobRecord
from assay.runtime import Runtime
from assay.storage.layout import dataset_table_key
from tests.helpers import ROWS, csv_bytes
from tests.integration.jobs_helpers import wait_for_status
from tests.plugins import shout

pytestmark = pytest.mark.slow
API = "/api/v1"


@pytest.fixture(autouse=True)
def _ray(ray_head: LocalRayHead) -> None:
    ray_head.ensure_started()


def _job(dataset: str, provider: str, **options: object) -> dict[str, object]:
    config = {"job_type": "inference", "provider": provider, "model": "m", "provider_options": options}
    return {"name": "plugin", "dataset": dataset, "job_config": config}


def test_a_plugin_provider_with_its_own_options_runs_and_bad_options_are_refused(
    client: TestClient, runtime: Runtime
) -> None:
    shout.register()
    dataset = client.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}).json()["id"]

    for options, field, words in (
        ({"repeat": 9}, "job_config.provider_options.repeat", "less than or equal to 3"),
        ({"volume": 11}, "job_config.provider_options.volume", "Extra inputs are not permitted"),
    ):
        refused = client.post(f"{API}/jobs/inference/", json=_job(dataset, "shout", **options))
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field and words in refused.json()["detail"], refused.json()
    foreign = client.post(f"{API}/jobs/inference/", json=_job(dataset, "mock", repeat=2))
    assert foreign.status_code == 422 and foreign.json()["field"] == "job_config.provider_options.repeat"

    created = client.post(f"{API}/jobs/inference/", json=_job(dataset, "shout", suffix="?!", repeat=2))
    assert created.status_code == 201, created.text
    job = wait_for_status(client, created.json()["id"])
    assert job["status"] == "succeeded", client.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]

    with runtime.session_factory() as session:
        record = session.get(JobRecord, uuid.UUID(job["id"]))
        assert record is not None and record.output_prefix is not None
        key = dataset_table_key(record.output_prefix)
    with runtime.store.open_reader(key) as reader:
        predictions = pq.read_table(reader).column("predictions").to_pylist()
    assert predictions == [f"{row['examples'].upper()}?! {row['examples'].upper()}?!" for row in ROWS]
