"""The Python SDK (``assay.client``) against the app served on a real socket, on every backend:
each resource, listings that page, the server's errors as exceptions, sync and async."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from assay.client import (
    APIError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConnectionFailed,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from assay.compute.local_ray import LocalRayHead
from assay.runtime import Runtime
from assay.schemas.datasets import DatasetDetail
from tests.backends import one_backend
from tests.helpers import csv_bytes
from tests.integration.test_services import APP
from tests.serving import server_url

pytestmark = pytest.mark.slow
ROWS = [{"examples": f"Report {i}: the committee met.", "ground_truth": f"Met {i}."} for i in range(7)]


@pytest.fixture
def sdk(client: TestClient, isolated: Path) -> Iterator[Client]:
    with Client(server_url(client)) as sdk:
        yield sdk


def test_projects_datasets_files_secrets_tokens(sdk: Client, isolated: Path) -> None:
    project = sdk.projects.create("SDK Lab", description="made by the SDK")
    assert project.id == "sdk-lab" and project.role == "owner"
    assert "sdk-lab" in {p.id for p in sdk.projects.list()}
    assert sdk.projects.update("sdk-lab", description="renamed").description == "renamed"
    assert [m.role for m in sdk.projects.members("sdk-lab")] == ["owner"]
    lab = sdk.for_project("sdk-lab")

    path = isolated / "news.csv"
    path.write_bytes(csv_bytes(ROWS))
    seen: list[tuple[int, int]] = []
    from_path = lab.datasets.upload(path, progress=lambda done, total: seen.append((done, total)))
    assert from_path.filename == "news.csv" and from_path.row_count == 7 and from_path.project_id == "sdk-lab"
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    from_rows = lab.datasets.upload(ROWS, name="rows.parquet")
    from_frame = lab.datasets.upload(pandas.DataFrame(ROWS[:3]), name="frame.parquet")
    from_arrow = lab.datasets.upload(pa.Table.from_pylist(ROWS[:2]))
    assert (from_rows.row_count, from_frame.row_count, from_arrow.row_count) == (7, 3, 2)
    assert from_arrow.source_format == "parquet" and from_arrow.filename == "table.parquet"

    listed = list(lab.datasets.list(page_size=3))  # two pages of three and one of one... paging
    assert sorted(d.filename for d in listed) == sorted(
        ["news.csv", "rows.parquet", "frame.parquet", "table.parquet"]
    )
    assert all(isinstance(d, DatasetDetail) for d in listed)
    assert list(sdk.datasets.list()) == []  # the default project is another one

    frame = lab.datasets.preview(from_path.id, limit=5)
    assert list(frame["ground_truth"]) == [row["ground_truth"] for row in ROWS[:5]]
    page = lab.datasets.rows(from_path.id, offset=5, limit=10)
    assert page.total == 7 and [r["examples"] for r in page.rows] == [r["examples"] for r in ROWS[5:]]
    saved = lab.datasets.download(from_path.id, isolated / "back.csv")
    assert list(csv.DictReader(io.StringIO(saved.read_text()))) == ROWS
    as_parquet = lab.datasets.download(from_path.id, isolated / "back.parquet", extension="parquet")
    assert pandas.read_parquet(as_parquet).to_dict("records") == ROWS
    lab.datasets.delete(from_frame.id)
    with pytest.raises(NotFoundError) as missing:
        lab.datasets.get(from_frame.id)
    assert missing.value.status == 404 and missing.value.message

    first = lab.files.upload(b"weights v1", folder="models", name="model.bin")
    second = lab.files.upload(b"weights v2", folder="models", name="model.bin")
    lab.files.upload(path, folder="other")
    assert (first.version, second.version) == (1, 2)
    assert {(f.name, f.version) for f in lab.files.list(page_size=1)} == {("model.bin", 2), ("news.csv", 1)}
    assert len(list(lab.files.list(all_versions=True, folder="models"))) == 2
    assert [v.version for v in lab.files.versions("models", "model.bin")] == [2, 1]
    assert lab.files.read("models", "model.bin", version=1) == b"weights v1"
    assert lab.files.download("models", "model.bin", isolated / "m.bin").read_bytes() == b"weights v2"
    assert lab.files.get("models", "model.bin").sha256 == second.sha256
    assert lab.files.delete("models", "model.bin", keep=1).deleted_versions == [1]

    assert lab.secrets.set("hf", "sk-value-never-shown", description="key") is True
    assert lab.secrets.set("hf", "sk-value-never-shown-2", description="key 2") is False
    listed_secrets = list(lab.secrets.list())
    assert [(s.name, s.description) for s in listed_secrets] == [("hf", "key 2")]
    assert "sk-value" not in repr(listed_secrets)
    lab.secrets.delete("hf")
    assert list(lab.secrets.list()) == []

    created = sdk.tokens.create("notebook", expires_in_days=7)
    assert created.id in {t.id for t in sdk.tokens.list()}
    with Client(sdk.url, token=created.token) as holder:
        assert holder.account.me().username == "admin"
    sdk.tokens.revoke(created.id)
    assert created.id not in {t.id for t in sdk.tokens.list()}

    sdk.projects.delete("sdk-lab", force=True)
    with pytest.raises(NotFoundError):
        sdk.projects.get("sdk-lab")


def test_errors_carry_status_field_and_message(sdk: Client) -> None:
    with pytest.raises(InvalidInputError) as invalid:
        sdk.projects.create("x!")
    assert (invalid.value.status, invalid.value.field) == (422, "name")
    with pytest.raises(APIError) as refused:
        sdk.datasets.upload([{"text": "no examples column"}])
    assert refused.value.status in (400, 422) and refused.value.field and "examples" in refused.value.message
    with pytest.raises(NotFoundError) as missing:
        sdk.experiments.get(uuid.uuid4())
    assert "experiment" in missing.value.message.lower()
    with pytest.raises(ConnectionFailed), Client("http://127.0.0.1:9", retries=2) as nowhere:
        nowhere.account.me()


def test_async_client(client: TestClient, isolated: Path) -> None:
    async def scenario() -> None:
        async with AsyncClient(server_url(client)) as sdk:
            uploads = await asyncio.gather(
                *(sdk.datasets.upload(ROWS, name=f"part-{i}.parquet") for i in range(3))
            )
            names = [d.filename async for d in sdk.datasets.list(page_size=2)]
            assert sorted(names) == sorted(d.filename for d in uploads)
            experiment = await sdk.experiments.create("async", uploads[0].id, max_samples=3)
            assert [e.id async for e in sdk.experiments.list()] == [experiment.id]
            assert (await sdk.experiments.get(experiment.id)).task_definition.task == "summarization"
            with pytest.raises(NotFoundError) as missing:
                await sdk.workflows.get(uuid.uuid4())
            assert missing.value.status == 404

    asyncio.run(scenario())


def test_workflows_and_jobs(sdk: Client, ray_head: LocalRayHead) -> None:
    """A workflow runs an inference and an evaluation job; both are read through ``jobs``."""
    ray_head.ensure_started()
    dataset = sdk.datasets.upload(ROWS[:4])
    experiment = sdk.experiments.create("sdk", dataset.id)
    created = sdk.workflows.create(experiment.id, model="{prompt}", provider="mock", metrics=["exact_match"])
    states: list[str] = []
    finished = sdk.workflows.wait(
        created.id, progress=lambda w: states.append(w.state), interval=0.3, timeout=240
    )
    assert finished.state == "succeeded" and states[-1] == "succeeded", finished.status_reason
    assert finished.metrics and "exact_match_mean" in finished.metrics
    assert "scoring 4 examples" in sdk.workflows.logs(created.id)

    jobs = {job.job_type: job for job in sdk.jobs.list(page_size=1)}
    assert set(jobs) == {"inference", "evaluator"}
    inference = sdk.jobs.wait(finished.inference_job_id or "", timeout=10)
    assert inference.status == "succeeded" and inference.output_dataset_id is not None
    assert [j.id for j in sdk.jobs.list(job_types=["evaluator"])] == [finished.evaluation_job_id]
    assert sdk.jobs.logs(inference.id)
    assert sdk.jobs.result_url(inference.id).startswith("http")
    assert sdk.jobs.stop(inference.id).status == "succeeded"  # a finished job has nothing to stop

    comparison = sdk.experiments.compare(experiment.id)
    assert [w.workflow_id for w in comparison.workflows] == [created.id]
    assert (
        len(list(csv.DictReader(io.StringIO(sdk.experiments.export(experiment.id, format="csv").decode()))))
        == 4
    )
    sdk.experiments.delete(experiment.id)
    with pytest.raises(NotFoundError):
        sdk.workflows.get(created.id)


@one_backend
def test_an_app_service_through_the_sdk(
    client: TestClient,
    runtime: Runtime,
    ray_head: LocalRayHead,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One service (the echo app) for every call: created, waited for, called through the
    gateway with the client's token (sync, async, streamed), its logs read and followed,
    stopped and deleted."""
    ray_head.ensure_started()
    url = server_url(client)
    with Client(url) as local:
        token = local.tokens.create("services").token
    monkeypatch.setattr(runtime.settings, "auth", "required")
    with Client(url, token=token) as sdk:
        with pytest.raises(InvalidInputError) as impossible:
            sdk.services.create("other", [sys.executable, APP], replicas=0)
        with pytest.raises(InvalidInputError) as unknown:  # extra keywords go to the server as they are
            sdk.services.create("other", [sys.executable, APP], port=80)
        assert (impossible.value.field, unknown.value.field) == ("replicas", "port")
        created = sdk.services.create(
            "echo", (sys.executable, APP), env={"MODE": "sdk"}, health_path="/headers", num_cpus=0.5
        )
        assert (created.status, created.config["env"]) == ("created", {"MODE": "sdk"})
        try:
            use_a_running_service(sdk, url, token)
        finally:
            sdk.services.delete("echo")
        with pytest.raises(NotFoundError):
            sdk.services.get("echo")
        with pytest.raises(NotFoundError):  # a stream's refusal, before anything is read
            list(sdk.services.follow_logs("echo"))
        assert not list(sdk.services.list())  # one being deleted is not listed


def use_a_running_service(sdk: Client, url: str, token: str) -> None:
    seen: list[str] = []
    running = sdk.services.wait_running("echo", 90, progress=lambda s: seen.append(s.status), interval=0.3)
    assert running.status == "running" and seen[-1] == "running", running.status_reason
    assert [s.name for s in sdk.services.list(page_size=1)] == ["echo"]
    assert sdk.services.status("echo").status == "running"
    assert (sdk.services.scale("echo", 1).replicas, sdk.services.get("echo").status) == (1, "running")

    headers = sdk.services.request("echo", "GET", "/headers", headers={"X-Probe": "1"}).json()["headers"]
    assert headers["x-probe"] == "1" and "authorization" not in headers and token not in str(headers)
    assert sdk.services.request("echo", "post", "body", content=b"hello").json()["size"] == 5
    events = sdk.services.url("echo", "/events")
    assert events == f"{url}/api/v1/projects/default/services/echo/proxy/events"
    with sdk.http.stream("GET", events, params={"n": 2}) as stream:  # with the client's token
        assert "".join(stream.iter_text()) == "data: 0\n\ndata: 1\n\n"
    with Client(url, token="") as anonymous, pytest.raises(AuthenticationError):
        anonymous.services.request("echo", "GET", "/")

    assert "assay-service-address" in sdk.services.logs("echo")
    for chunk in sdk.services.follow_logs("echo"):
        assert "assay-service-address" in chunk
        break

    async def from_async_code() -> None:
        async with AsyncClient(url, token=token) as calls:
            assert (await calls.services.get("echo")).status == "running"
            assert "echo service" in (await calls.services.request("echo", "GET", "/")).text
            async for chunk in calls.services.follow_logs("echo"):
                assert "assay-service-address" in chunk
                break

    asyncio.run(from_async_code())

    assert sdk.services.stop("echo").status == "stopping"
    assert sdk.services.wait_running("echo", 60, interval=0.3).status == "stopped"
    # A followed log ends when the service rests.
    assert "assay-service-address" in "".join(sdk.services.follow_logs("echo"))
    with Client(url, token=token, retries=1) as once, pytest.raises(UnavailableError):
        once.services.request("echo", "GET", "/")
