"""The published lumigator-sdk 0.1.4a0, unchanged, against a real ``assay serve`` process that
requires credentials: the SDK authenticates with an API token in its host string
(``user:token@host:port``), which ``requests`` sends as HTTP Basic."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from lumigator_schemas.datasets import DatasetFormat
from lumigator_sdk.lumigator import LumigatorClient
from lumigator_sdk.strict_schemas import SecretUploadRequest
from pydantic import SecretStr

from assay.config import Settings
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.servers import ManagedProcess, PostgresDatabase, free_port, serve_command

pytestmark = pytest.mark.slow
ADMIN_PASSWORD = "admin password of the sdk server"
SECRET = "sk-never-shown"


def settings_env(settings: Settings) -> dict[str, str]:
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        secret = getattr(value, "get_secret_value", None)
        if isinstance(value, list):
            value = ",".join(value)
        env[f"ASSAY_{name.upper()}"] = str(secret() if secret else value)
    return env


@dataclass(frozen=True)
class Server:
    address: str
    log: Path
    sdk_host: str  # user:token@address, as LumigatorClient takes it
    token: str


def issue_sdk_token(address: str) -> tuple[str, str]:
    """Log in as the admin, create a user who may edit the default project, and give it a token."""
    with httpx.Client(base_url=f"http://{address}/api/v1") as admin:
        login = admin.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        assert admin.post("/users", json={"username": "sdk-user"}).status_code == 201
        member = admin.put("/projects/default/members/sdk-user", json={"role": "editor"})
        assert member.status_code == 201
        token = admin.post("/users/sdk-user/tokens", json={"name": "lumigator-sdk"}).json()["token"]
    return f"sdk-user:{token}@{address}", token


@pytest.fixture(scope="module")
def server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """A server process with its own database: it must not share one with the in-process app,
    whose reconciler would otherwise lead for jobs stored elsewhere."""
    database = PostgresDatabase().start() if backend.database == "postgresql" else None
    overrides: dict[str, object] = {"auth": "required", "admin_password": SecretStr(ADMIN_PASSWORD)}
    if database is not None:
        overrides["database_url"] = database.url
    settings = make_settings(backend, tmp_path_factory.mktemp(f"sdk-{backend.id}"), request, **overrides)
    port = free_port()
    env = {**os.environ, **settings_env(settings)}
    process = ManagedProcess(serve_command(port, "info"), settings.home / "serve.log", env, grace_s=30)
    host = f"127.0.0.1:{port}"
    try:
        process.start(
            lambda: httpx.get(f"http://{host}/api/v1/health/").status_code == 200, 60, "assay serve"
        )
        sdk_host, token = issue_sdk_token(host)
        yield Server(host, settings.home / "serve.log", sdk_host, token)
    finally:
        process.stop()
        if database is not None:
            database.stop()


def test_sdk_dataset_lifecycle(server: Server) -> None:
    client = LumigatorClient(server.sdk_host)
    content = csv_bytes()
    created = client.datasets.create_dataset(io.BytesIO(content), DatasetFormat.JOB)
    assert created.size == len(content) and created.ground_truth

    listing = client.datasets.get_datasets()
    assert created.id in {item.id for item in listing.items}
    assert client.datasets.get_dataset(created.id).filename == created.filename

    links = client.datasets.get_dataset_link(created.id, extension="csv")
    assert len(links.download_urls) == 1
    assert httpx.get(links.download_urls[0]).content == content
    # The signed link went through the API: its access log line hides the signature.
    signature = parse_qs(urlsplit(links.download_urls[0]).query)["signature"][0]
    log = server.log.read_text()
    assert "/api/v1/objects?" in log and "signature=***" in log and signature not in log
    assert len(client.datasets.get_dataset_link(created.id).download_urls) == 2

    client.datasets.delete_dataset(created.id)
    assert created.id not in {item.id for item in client.datasets.get_datasets().items}


def test_sdk_secrets_and_models(server: Server) -> None:
    client = LumigatorClient(server.sdk_host)
    secrets = client.settings.secrets
    assert secrets.upload_api_key(secrets.APIKey.OPENAI, SECRET)
    assert secrets.is_api_key_configured(secrets.APIKey.OPENAI)
    assert [key.name for key in secrets.list_api_keys()] == ["openai_api_key"]
    assert secrets.upload_secret("custom", SecretUploadRequest(value="v2", description="again"))
    assert secrets.delete_api_key(secrets.APIKey.OPENAI)
    assert secrets.delete_secret("custom")
    assert secrets.list_secrets() == []

    models = client.models.get_suggested_models(["summarization"])
    assert models.total == len(models.items) > 0
    assert client.health.healthcheck().ok()


def test_sdk_without_a_token_is_refused(server: Server) -> None:
    anonymous = LumigatorClient(server.address)
    assert anonymous.health.healthcheck().ok(), "health stays public for load balancers"
    with pytest.raises(requests.HTTPError, match="401"):
        anonymous.datasets.get_datasets()
    wrong = LumigatorClient(f"sdk-user:assay_wrong@{server.address}")
    with pytest.raises(requests.HTTPError, match="401"):
        wrong.datasets.get_datasets()


def test_server_log_never_shows_tokens_passwords_or_secrets(server: Server) -> None:
    client = LumigatorClient(server.sdk_host)
    assert client.settings.secrets.upload_secret("logged", SecretUploadRequest(value=SECRET, description="d"))
    client.settings.secrets.list_secrets()
    log = server.log.read_text()
    assert "GET /api/v1/settings/secrets" in log, "the access log is on"
    assert server.token not in log and ADMIN_PASSWORD not in log and SECRET not in log
