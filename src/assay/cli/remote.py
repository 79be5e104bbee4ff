"""Client commands: ``assay login`` and one group per resource, each a thin layer over the
Python SDK (``assay.client``), so that what a script can do in Python it can do in a shell."""

from __future__ import annotations

import json
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from assay.cli.output import (
    TASKS_HELP,
    JsonOption,
    ProjectOption,
    connect,
    console,
    failures_as_exit,
    print_comparison,
    print_json,
    show_list,
    show_one,
)
from assay.client import Client, forget_login, save_login
from assay.enums import ExportFormat, FileFolder

FINISHED = ("succeeded", "failed", "stopped")

projects_app = typer.Typer(help="Projects and their members.", no_args_is_help=True)
datasets_app = typer.Typer(help="Datasets: tables with an 'examples' column.", no_args_is_help=True)
files_app = typer.Typer(help="Versioned files (datasets, models, other).", no_args_is_help=True)
jobs_app = typer.Typer(help="Jobs: inference, annotation, evaluation, scripts.", no_args_is_help=True)
experiments_app = typer.Typer(help="Experiments: models compared on one dataset.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets (API keys); values are write-only.", no_args_is_help=True)
tokens_app = typer.Typer(help="Your API tokens.", no_args_is_help=True)
services_app = typer.Typer(
    help="Services: long-running apps of a project, behind Assay's gateway.", no_args_is_help=True
)


def login(
    url: Annotated[str, typer.Argument(help="the server, e.g. http://assay.example.com")],
    username: Annotated[str | None, typer.Option(help="asked when missing")] = None,
    with_token: Annotated[
        bool, typer.Option("--with-token", help="read an API token from stdin instead of signing in")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Sign in and store an API token (readable by you only) for later commands."""
    with failures_as_exit():
        if with_token:
            token = sys.stdin.readline().strip()
        else:
            username = username or typer.prompt("Username")
            password = typer.prompt("Password", hide_input=True)
            with Client(url, token="") as anonymous:
                anonymous.account.login(username, password)
                token = anonymous.tokens.create(f"assay CLI on {socket.gethostname()}"[:64]).token
        with Client(url, token=token) as client:
            me = client.account.me()
    path = save_login(url, token, project)
    console.print(f"logged in to {url.rstrip('/')} as {me.username}; token stored in {path}")


def logout() -> None:
    """Forget the stored token (it stays valid on the server: revoke it with `assay tokens`)."""
    console.print("logged out" if forget_login() else "not logged in")


@projects_app.command("list")
def projects_list(as_json: JsonOption = False) -> None:
    with connect(None) as client:
        show_list(client.projects.list(), ["id", "name", "role", "description"], as_json)


@projects_app.command("show")
def projects_show(project_id: str, as_json: JsonOption = False) -> None:
    with connect(None) as client:
        show_one(client.projects.get(project_id), as_json)


@projects_app.command("create")
def projects_create(name: str, description: str = "", as_json: JsonOption = False) -> None:
    """Create a project; its id is derived from the name (``My Lab`` → ``my-lab``)."""
    with connect(None) as client:
        show_one(client.projects.create(name, description), as_json)


@projects_app.command("rm")
def projects_rm(
    project_id: str,
    force: Annotated[bool, typer.Option("--force", help="also delete everything in it")] = False,
) -> None:
    with connect(None) as client:
        client.projects.delete(project_id, force=force)
    console.print(f"deleted project {project_id}")


@projects_app.command("members")
def projects_members(project_id: str, as_json: JsonOption = False) -> None:
    with connect(None) as client:
        show_list(client.projects.members(project_id), ["username", "role", "created_at"], as_json)


@contextmanager
def _upload_bar(path: Path) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for sending ``path``; yields the SDK's ``progress(done, total)``."""
    with Progress(path.name, BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task("upload", total=path.stat().st_size)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@datasets_app.command("upload")
def datasets_upload(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSONL or Parquet")],
    name: Annotated[str | None, typer.Option(help="default: the file's name")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a table, with a progress bar."""
    with connect(project) as client, _upload_bar(path) as progress:
        dataset = client.datasets.upload(path, name=name, progress=progress)
    show_one(dataset, as_json)


@datasets_app.command("list")
def datasets_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_list(client.datasets.list(), ["id", "filename", "row_count", "size", "created_at"], as_json)


@datasets_app.command("show")
def datasets_show(
    dataset_id: uuid.UUID,
    rows: Annotated[int, typer.Option(help="also print this many rows")] = 0,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(project) as client:
        show_one(client.datasets.get(dataset_id), as_json)
        if rows:
            print_json(client.datasets.rows(dataset_id, limit=rows).rows)


@datasets_app.command("download")
def datasets_download(
    dataset_id: uuid.UUID,
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it")],
    extension: Annotated[str | None, typer.Option(help="parquet: the Parquet copy")] = None,
    project: ProjectOption = None,
) -> None:
    """Download the file as uploaded (or its Parquet copy)."""
    with connect(project) as client:
        client.datasets.download(dataset_id, output, extension=extension)
    console.print(f"saved {output}")


@datasets_app.command("rm")
def datasets_rm(dataset_id: uuid.UUID, project: ProjectOption = None) -> None:
    with connect(project) as client:
        client.datasets.delete(dataset_id)
    console.print(f"deleted dataset {dataset_id}")


FolderOption = Annotated[FileFolder, typer.Option(help="datasets, models or other")]


@files_app.command("upload")
def files_upload(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    folder: FolderOption = FileFolder.OTHER,
    name: Annotated[str | None, typer.Option(help="default: the file's name")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a file; a name that exists gets its next version."""
    with connect(project) as client, _upload_bar(path) as progress:
        uploaded = client.files.upload(path, folder=folder, name=name, progress=progress)
    show_one(uploaded, as_json)


@files_app.command("list")
def files_list(
    folder: Annotated[FileFolder | None, typer.Option(help="one folder only")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(project) as client:
        files = client.files.list(folder=folder, all_versions=all_versions)
        show_list(files, ["folder", "name", "version", "size", "sha256", "created_at"], as_json)


@files_app.command("show")
def files_show(
    folder: FileFolder,
    name: str,
    version: int | None = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(project) as client:
        show_one(client.files.get(folder, name, version=version), as_json)


@files_app.command("download")
def files_download(
    folder: FileFolder,
    name: str,
    output: Annotated[Path, typer.Option("--output", "-o")],
    version: int | None = None,
    project: ProjectOption = None,
) -> None:
    with connect(project) as client:
        client.files.download(folder, name, output, version=version)
    console.print(f"saved {output}")


@files_app.command("rm")
def files_rm(
    folder: FileFolder,
    name: str,
    keep: Annotated[int, typer.Option(help="keep this many newest versions")] = 0,
    project: ProjectOption = None,
) -> None:
    with connect(project) as client:
        deleted = client.files.delete(folder, name, keep=keep).deleted_versions
    console.print(f"deleted {len(deleted)} version(s) of {folder}/{name}")


@jobs_app.command("list")
def jobs_list(
    job_type: Annotated[list[str] | None, typer.Option("--type", help="inference, evaluator...")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(project) as client:
        show_list(
            client.jobs.list(job_types=job_type), ["id", "name", "job_type", "status", "created_at"], as_json
        )


@jobs_app.command("show")
def jobs_show(job_id: uuid.UUID, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_one(client.jobs.get(job_id), as_json)


@jobs_app.command("logs")
def jobs_logs(
    job_id: uuid.UUID,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the job ends")] = False,
    interval: Annotated[float, typer.Option(help="seconds between reads with --follow")] = 2.0,
    project: ProjectOption = None,
) -> None:
    with connect(project) as client:
        printed = ""
        while True:
            logs = client.jobs.logs(job_id)
            # Logs grow at the end; anything else (a restart) is printed whole.
            typer.echo(logs[len(printed) :] if logs.startswith(printed) else logs, nl=False)
            printed = logs
            if not follow or client.jobs.get(job_id).status in FINISHED:
                break
            time.sleep(interval)


@jobs_app.command("stop")
def jobs_stop(job_id: uuid.UUID, project: ProjectOption = None) -> None:
    with connect(project) as client:
        status = client.jobs.stop(job_id).status
    console.print(f"stop requested for job {job_id} (now {status})")


@experiments_app.command("create")
def experiments_create(
    name: str,
    dataset: Annotated[uuid.UUID, typer.Option(help="dataset id")],
    task: Annotated[str, typer.Option(help=TASKS_HELP)] = "summarization",
    max_samples: Annotated[int, typer.Option(help="-1: every row")] = -1,
    description: str = "",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(project) as client:
        created = client.experiments.create(
            name, dataset, task=task, max_samples=max_samples, description=description
        )
        show_one(created, as_json)


@experiments_app.command("list")
def experiments_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_list(client.experiments.list(), ["id", "name", "dataset", "created_at"], as_json)


@experiments_app.command("show")
def experiments_show(
    experiment_id: uuid.UUID, project: ProjectOption = None, as_json: JsonOption = False
) -> None:
    with connect(project) as client:
        experiment = client.experiments.get(experiment_id)
    if as_json:
        show_one(experiment, True)
        return
    show_one(experiment.model_copy(update={"workflows": None}), False)
    show_list(experiment.workflows or [], ["id", "name", "model", "status"], False)


@experiments_app.command("compare")
def experiments_compare(
    experiment_id: uuid.UUID, project: ProjectOption = None, as_json: JsonOption = False
) -> None:
    """Each workflow's means with 95% CIs; * marks the strictly best per score."""
    with connect(project) as client:
        print_comparison(client.experiments.compare(experiment_id), as_json)


@experiments_app.command("export")
def experiments_export(
    experiment_id: uuid.UUID,
    output: Annotated[Path, typer.Option("--output", "-o")],
    format: Annotated[
        ExportFormat, typer.Option(help="html (a self-contained report), csv (a row per example), json")
    ] = ExportFormat.HTML,
    project: ProjectOption = None,
) -> None:
    with connect(project) as client:
        output.write_bytes(client.experiments.export(experiment_id, format=format))
    console.print(f"saved {output}")


@secrets_app.command("set")
def secrets_set(
    name: str,
    description: str = "",
    allowed_host: Annotated[
        list[str] | None, typer.Option(help="a host or base URL the value may be sent to (repeatable)")
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Create or replace a secret. The value is read from stdin, or asked without echo: never
    an argument, which would show in ``ps`` and in shell histories."""
    value = typer.prompt("Value", hide_input=True) if sys.stdin.isatty() else sys.stdin.read().rstrip("\r\n")
    if not value:
        raise typer.BadParameter("the value is empty", param_hint="stdin")
    with connect(project) as client:
        created = client.secrets.set(name, value, description=description, allowed_hosts=allowed_host)
    console.print(f"{'created' if created else 'replaced'} secret {name}")


@secrets_app.command("list")
def secrets_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_list(client.secrets.list(), ["name", "description", "allowed_hosts"], as_json)


@secrets_app.command("rm")
def secrets_rm(name: str, project: ProjectOption = None) -> None:
    with connect(project) as client:
        client.secrets.delete(name)
    console.print(f"deleted secret {name}")


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False) -> None:
    with connect(None) as client:
        show_list(client.tokens.list(), ["id", "name", "created_at", "expires_at", "last_used_at"], as_json)


@tokens_app.command("create")
def tokens_create(name: str, expires_in_days: int | None = None) -> None:
    """Issue a token and print it alone, so that scripts can capture it."""
    with connect(None) as client:
        typer.echo(client.tokens.create(name, expires_in_days=expires_in_days).token)


@tokens_app.command("revoke")
def tokens_revoke(token_id: uuid.UUID) -> None:
    with connect(None) as client:
        client.tokens.revoke(token_id)
    console.print(f"revoked token {token_id}")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, equals, rest = value.partition("=")
        if not key or not equals:
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        pairs[key] = rest
    return pairs


def _json_or_text(text: str) -> Any:
    """A ``--set`` value: JSON where it parses (numbers, lists, true), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@services_app.command("create")
def services_create(
    name: str,
    command: Annotated[
        list[str] | None, typer.Argument(help="after --: the command and its arguments, run without a shell")
    ] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE (repeatable)")] = None,
    health_path: Annotated[
        str | None, typer.Option(help="answered below 400 once it serves (default /)")
    ] = None,
    cpus: Annotated[float | None, typer.Option("--cpus", help="CPUs for it (default 1)")] = None,
    gpus: Annotated[float | None, typer.Option("--gpus", help="GPUs for it (default 0)")] = None,
    kind: Annotated[str, typer.Option(help="app: a command serving HTTP on $HOST:$PORT")] = "app",
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="another field of the request, KEY=VALUE, the value read as JSON if it is"
        ),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create and start a service: assay services create demo -- python app.py --debug"""
    options = {key: _json_or_text(value) for key, value in _pairs(fields, "--set").items()}
    with connect(project) as client:
        created = client.services.create(
            name,
            command,
            kind=kind,
            env=_pairs(env, "--env") or None,
            health_path=health_path,
            num_cpus=cpus,
            num_gpus=gpus,
            **options,
        )
    show_one(created, as_json)


@services_app.command("list")
def services_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_list(
            client.services.list(), ["name", "kind", "status", "restarts", "desired", "created_at"], as_json
        )


@services_app.command("show")
def services_show(name: str, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_one(client.services.get(name), as_json)


@services_app.command("status")
def services_status(name: str, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    with connect(project) as client:
        show_one(client.services.status(name), as_json)


def _service_action(verb: str) -> Callable[[str, str | None], None]:
    def act(name: str, project: ProjectOption = None) -> None:
        with connect(project) as client:
            status = getattr(client.services, verb)(name).status
        console.print(f"{verb} requested for service {name} (now {status})")

    return act


for _verb, _help in (
    ("stop", "Stop the service; it keeps its name and settings."),
    ("start", "Start a stopped or failed service again."),
    ("restart", "Replace the running process with a new one."),
):
    services_app.command(_verb, help=_help)(_service_action(_verb))


@services_app.command("scale")
def services_scale(
    name: str,
    replicas: Annotated[int, typer.Argument(help="how many copies to run (1 to 16)")],
    project: ProjectOption = None,
) -> None:
    """Run this many replicas: new ones start, the surplus stop, the others go on serving."""
    with connect(project) as client:
        service = client.services.scale(name, replicas)
    console.print(f"scaling service {name} to {service.replicas} replicas ({service.ready_replicas} ready)")


@services_app.command("delete")
def services_delete(name: str, project: ProjectOption = None) -> None:
    """Stop the service and forget it; the name is free once it has stopped."""
    with connect(project) as client:
        client.services.delete(name)
    console.print(f"deleting service {name}")


@services_app.command("logs")
def services_logs(
    name: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing until the service stops")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """What the service's current process printed."""
    with connect(project) as client:
        for chunk in client.services.follow_logs(name) if follow else [client.services.logs(name)]:
            typer.echo(chunk, nl=False)


@services_app.command("url")
def services_url(
    name: str,
    path: Annotated[str, typer.Argument(help="a path of the service")] = "/",
    project: ProjectOption = None,
) -> None:
    """Print the service's address through the gateway."""
    with connect(project) as client:
        client.services.get(name)
        typer.echo(client.services.url(name, path))


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    for name, group in {
        "projects": projects_app,
        "datasets": datasets_app,
        "files": files_app,
        "jobs": jobs_app,
        "experiments": experiments_app,
        "secrets": secrets_app,
        "services": services_app,
        "tokens": tokens_app,
    }.items():
        app.add_typer(group, name=name)
