"""The client commands of the ``assay`` CLI, through typer's runner and as a subprocess, and
``assay eval`` end to end in embedded mode with two mock-provider models."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay.api.background import serve_in_background
from assay.cli import evaluate
from assay.cli.main import app
from assay.client import Client, content_hash, login_path
from assay.compute.local_ray import LocalRayHead
from tests.backends import BACKENDS, make_settings, one_backend
from tests.integration.test_sdk_client import ROWS
from tests.integration.test_services import APP
from tests.serving import server_url

pytestmark = pytest.mark.slow
# The commands are one layer over the SDK, whose own tests run on every backend.
SECRET = "sk-cli-secret-value-never-echoed"
runner = CliRunner()


def invoke(*args: str, input: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def url(client: TestClient, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ASSAY_URL", server_url(client))
    return server_url(client)


@one_backend
def test_resources_through_the_runner(url: str, isolated: Path) -> None:
    data = isolated / "news.csv"
    with data.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    invoke("projects", "create", "Cli Lab")
    uploaded = json.loads(invoke("datasets", "upload", str(data), "--project", "cli-lab", "--json"))
    assert uploaded["row_count"] == len(ROWS) and uploaded["project_id"] == "cli-lab"
    listed = json.loads(invoke("datasets", "list", "--project", "cli-lab", "--json"))
    assert [d["id"] for d in listed] == [uploaded["id"]]
    assert json.loads(invoke("datasets", "list", "--json")) == []  # the default project
    assert "news.csv" in invoke("datasets", "list", "-p", "cli-lab")
    shown = json.loads(invoke("datasets", "show", uploaded["id"], "-p", "cli-lab", "--json"))
    assert shown["columns"][0]["name"] == "examples"
    invoke("datasets", "download", uploaded["id"], "-o", str(isolated / "copy.csv"), "-p", "cli-lab")
    assert (isolated / "copy.csv").read_bytes() == data.read_bytes()

    invoke("files", "upload", str(data), "--folder", "datasets", "-p", "cli-lab")
    invoke("files", "upload", str(data), "--folder", "datasets", "-p", "cli-lab")
    versions = json.loads(invoke("files", "list", "--all-versions", "-p", "cli-lab", "--json"))
    assert sorted(f["version"] for f in versions) == [1, 2]
    assert "deleted 1 version" in invoke(
        "files", "rm", "datasets", "news.csv", "--keep", "1", "-p", "cli-lab"
    )

    experiment = json.loads(
        invoke("experiments", "create", "cli", "--dataset", uploaded["id"], "-p", "cli-lab", "--json")
    )
    assert [e["id"] for e in json.loads(invoke("experiments", "list", "-p", "cli-lab", "--json"))] == [
        experiment["id"]
    ]

    output = invoke("secrets", "set", "openai", "--description", "key", "-p", "cli-lab", input=SECRET + "\n")
    assert "created secret openai" in output and SECRET not in output
    secrets = json.loads(invoke("secrets", "list", "-p", "cli-lab", "--json"))
    assert [s["name"] for s in secrets] == ["openai"] and SECRET not in json.dumps(secrets)
    with Client(url, project="cli-lab") as sdk:
        assert [s.description for s in sdk.secrets.list()] == ["key"]
    invoke("secrets", "rm", "openai", "-p", "cli-lab")

    refused = invoke("datasets", "rm", "00000000-0000-0000-0000-000000000000", "-p", "cli-lab", code=1)
    assert "error: 404" in refused
    invoke("projects", "rm", "cli-lab", "--force")
    assert "cli-lab" not in {p["id"] for p in json.loads(invoke("projects", "list", "--json"))}


@one_backend
def test_services_commands(url: str, ray_head: LocalRayHead) -> None:
    """The command after ``--`` is the service's, options and all; the SDK waits where the
    commands have no wait of their own."""
    ray_head.ensure_started()
    refused = invoke("services", "create", "bad", "--set", "replicas=0", "--", sys.executable, APP, code=1)
    assert "error: 422" in refused and "replicas" in refused
    created = json.loads(
        invoke(
            *("services", "create", "echo", "--env", "MODE=cli", "--health-path", "/headers"),
            *("--cpus", "0.5", "--set", "replicas=1", "--json", "--", sys.executable, APP, "--debug"),
        )
    )
    assert created["config"]["command"] == [sys.executable, APP, "--debug"]
    assert (created["config"]["env"], created["config"]["num_cpus"]) == ({"MODE": "cli"}, 0.5)
    with Client(url) as sdk:
        try:
            assert [s["name"] for s in json.loads(invoke("services", "list", "--json"))] == ["echo"]
            assert json.loads(invoke("services", "show", "echo", "--json"))["kind"] == "app"
            address = invoke("services", "url", "echo", "/headers").strip().splitlines()[-1]
            assert address == f"{url}/api/v1/projects/default/services/echo/proxy/headers"
            assert "error: 404" in invoke("services", "url", "nothing", code=1)
            assert sdk.services.wait_running("echo", 90, interval=0.3).status == "running"
            assert json.loads(invoke("services", "status", "echo", "--json"))["status"] == "running"
            assert "assay-service-address" in invoke("services", "logs", "echo")
            assert "scaling service echo to 1 replicas" in invoke("services", "scale", "echo", "1")
            refused = invoke("services", "scale", "echo", "17", code=1)
            assert "error: 422" in refused and "replicas" in refused
            assert "restart requested for service echo (now created)" in invoke("services", "restart", "echo")
            assert "stop requested for service echo" in invoke("services", "stop", "echo")
            assert sdk.services.wait_running("echo", 60, interval=0.3).status == "stopped"
            invoke("services", "logs", "echo", "-f")  # ends: the service rests
            assert "start requested for service echo (now created)" in invoke("services", "start", "echo")
        finally:
            assert "deleting service echo" in invoke("services", "delete", "echo")
        assert not list(sdk.services.list())  # one being deleted is not listed


@one_backend
def test_login_stores_a_private_token_and_subprocess_exit_codes(url: str, isolated: Path) -> None:
    # The last line: the in-process server's own log lines (MLflow's) may come before it.
    token = invoke("tokens", "create", "cli-test").strip().splitlines()[-1]
    assert "logged in" in invoke("login", url, "--with-token", input=token + "\n")
    path = login_path()
    assert path.is_relative_to(isolated / "config")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["token"] == token

    env = {k: v for k, v in os.environ.items() if k != "ASSAY_URL"}
    env.update(XDG_CONFIG_HOME=str(isolated / "config"), PYTHONPATH=os.pathsep.join(sys.path))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "assay.cli.main", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    listed = run("tokens", "list", "--json")  # the stored login: its URL and its token
    assert listed.returncode == 0, listed.stderr
    assert "cli-test" in {t["name"] for t in json.loads(listed.stdout)}
    missing = run("jobs", "show", "00000000-0000-0000-0000-000000000000", "--json")
    assert missing.returncode == 1 and "error: 404" in missing.stderr
    env["ASSAY_URL"] = "http://127.0.0.1:9"
    unreachable = run("datasets", "list")
    assert unreachable.returncode == 2 and "cannot reach the server" in unreachable.stderr
    assert "logged out" in invoke("logout") and not path.exists()


@one_backend
def test_login_with_a_password_creates_a_token(url: str) -> None:
    password = "a password typed, never shown"
    created = httpx.post(f"{url}/api/v1/users", json={"username": "ada", "password": password})
    assert created.status_code == 201, created.text
    output = invoke("login", url, "--username", "ada", input=password + "\n")
    assert "as ada" in output and password not in output
    with Client(url) as client:  # the stored login, nothing given
        assert client.account.me().username == "ada"
        assert [t.name for t in client.tokens.list()] == [f"assay CLI on {socket.gethostname()}"[:64]]
    invoke("login", url, "--username", "ada", input="wrong password\n", code=1)


def test_eval_end_to_end_in_embedded_mode(
    isolated: Path, ray_head: LocalRayHead, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 rows, two mock models, no server given: the command starts one, and the table it
    prints holds the comparison API's numbers."""
    ray_head.ensure_started()
    home = isolated / "home"
    settings = make_settings(BACKENDS[0], home, request)
    for name in ("home", "ray_address", "ray_auth_token_file", "ray_python", "reconcile_interval_seconds"):
        monkeypatch.setenv(f"ASSAY_{name.upper()}", str(getattr(settings, name)))
    rows = [
        {
            "examples": f"On day {i} the board approved budget {i} for the school.",
            "ground_truth": f"Budget {i}.",
        }
        for i in range(50)
    ]
    data = isolated / "budgets.csv"
    with data.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["examples", "ground_truth"])
        writer.writeheader()
        writer.writerows(rows)
    report = isolated / "report.html"
    args = ["eval", str(data), "--model", "mock:{prompt}", "--model", "mock:Budget approved."]
    result = runner.invoke(
        app, [*args, "--metrics", "rouge,bleu", "--report", str(report), "--interval", "0.3"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "<svg" in report.read_text()
    experiment_id = re.findall(r"experiment ([0-9a-f-]{36})", result.output)[-1]

    with serve_in_background(settings) as (_, reopened), Client(reopened) as sdk:
        comparison = sdk.experiments.compare(experiment_id)
        jobs = list(sdk.jobs.list())
        assert sorted(job.job_type for job in jobs) == ["evaluator", "evaluator", "inference", "inference"]
        assert sdk.jobs.wait(jobs[0].id).status == "succeeded"
        monkeypatch.setenv("ASSAY_URL", reopened)
        assert invoke("jobs", "logs", str(jobs[0].id), "--follow") == sdk.jobs.logs(jobs[0].id)
        listed = json.loads(invoke("jobs", "list", "--type", "inference", "--json"))
        assert sorted(job["id"] for job in listed) == sorted(
            str(j.id) for j in jobs if j.job_type == "inference"
        )
        dataset_id = sdk.experiments.get(experiment_id).dataset
        assert [d.id for d in sdk.datasets.list(sha256=content_hash(data))] == [dataset_id]
        assert evaluate._dataset(sdk, data).id == dataset_id  # reused, not sent again
        assert [d.id for d in sdk.datasets.list() if d.filename == data.name] == [dataset_id]
        invoke("experiments", "export", experiment_id, "-o", str(isolated / "rows.csv"), "--format", "csv")
        assert len(list(csv.DictReader((isolated / "rows.csv").open()))) == 50
        assert json.loads(invoke("experiments", "compare", experiment_id, "--json")) == comparison.model_dump(
            mode="json"
        )
    assert [w.status for w in comparison.workflows] == ["succeeded", "succeeded"]
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    names = [w.name for w in comparison.workflows]
    header = next(line for line in result.output.splitlines() if names[0] in line and names[1] in line)
    echo_first = header.index(names[0]) < header.index(names[1])
    for score in ("rouge1", "rouge2", "rougeL", "bleu"):
        cells = re.findall(r"(\d+\.\d{4}) \[(\d+\.\d{4}), (\d+\.\d{4})\]( \*)?", lines[score])
        expected = [
            (f"{m['mean']:.4f}", f"{m['ci_low']:.4f}", f"{m['ci_high']:.4f}", " *" if best else "")
            for w in comparison.workflows
            for m, best in [(w.metrics[score], comparison.best.get(score) == w.workflow_id)]
        ]
        assert cells == (expected if echo_first else expected[::-1]), lines[score]
    assert comparison.best  # the two models differ: some score has a strict best
