"""The published lumigator-sdk 0.1.4a0, unchanged, against a real ``assay serve`` process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from lumigator_schemas.datasets import DatasetFormat
from lumigator_sdk.lumigator import LumigatorClient
from lumigator_sdk.strict_schemas import SecretUploadRequest

from assay.config import Settings
from assay.testing.servers import PostgresDatabase, free_port, wait_until
from tests.conftest import Backend, make_settings
from tests.helpers import csv_bytes

pytestmark = pytest.mark.slow


def settings_env(settings: Settings) -> dict[str, str]:
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        secret = getattr(value, "get_secret_value", None)
        env[f"ASSAY_{name.upper()}"] = str(secret() if secret else value)
    return env


@pytest.fixture(scope="module")
def server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A server process with its own database: it must not share one with the in-process app,
    whose reconciler would otherwise lead for jobs stored elsewhere."""
    database = PostgresDatabase().start() if backend.database == "postgresql" else None
    overrides = {"database_url": database.url} if database else {}
    settings = make_settings(backend, tmp_path_factory.mktemp(f"sdk-{backend.id}"), request, **overrides)
    port = free_port()
    log = (settings.home / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "assay.cli.main", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **settings_env(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"http://{host}/api/v1/health/").status_code == 200, 60, "assay serve")
        yield host
    finally:
        process.terminate()
        process.wait(timeout=30)
        if database is not None:
            database.stop()


def test_sdk_dataset_lifecycle(server: str) -> None:
    client = LumigatorClient(server)
    content = csv_bytes()
    created = client.datasets.create_dataset(io.BytesIO(content), DatasetFormat.JOB)
    assert created.size == len(content) and created.ground_truth

    listing = client.datasets.get_datasets()
    assert created.id in {item.id for item in listing.items}
    assert client.datasets.get_dataset(created.id).filename == created.filename

    links = client.datasets.get_dataset_link(created.id, extension="csv")
    assert len(links.download_urls) == 1
    assert httpx.get(links.download_urls[0]).content == content
    assert len(client.datasets.get_dataset_link(created.id).download_urls) == 2

    client.datasets.delete_dataset(created.id)
    assert created.id not in {item.id for item in client.datasets.get_datasets().items}


def test_sdk_secrets_and_models(server: str) -> None:
    client = LumigatorClient(server)
    secrets = client.settings.secrets
    assert secrets.upload_api_key(secrets.APIKey.OPENAI, "sk-never-shown")
    assert secrets.is_api_key_configured(secrets.APIKey.OPENAI)
    assert [key.name for key in secrets.list_api_keys()] == ["openai_api_key"]
    assert secrets.upload_secret("custom", SecretUploadRequest(value="v2", description="again"))
    assert secrets.delete_api_key(secrets.APIKey.OPENAI)
    assert secrets.delete_secret("custom")
    assert secrets.list_secrets() == []

    models = client.models.get_suggested_models(["summarization"])
    assert models.total == len(models.items) > 0
    assert client.health.healthcheck().ok()
