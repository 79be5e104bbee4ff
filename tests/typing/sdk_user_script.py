"""A user's script, checked by ``mypy --strict`` (tests/unit/test_sdk_typing.py): the SDK's
results are typed, sync and async alike, so mistakes show before anything runs."""

from __future__ import annotations

import asyncio
import uuid

from assay.client import APIError, AsyncClient, Client
from assay.schemas.datasets import DatasetDetail
from assay.schemas.experiments import ComparisonResponse, WorkflowDetail


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


if __name__ == "__main__":
    best = evaluate("news.csv").best
    print(best, asyncio.run(listing()))
