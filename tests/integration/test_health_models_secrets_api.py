"""Health, the model catalog and secrets on every backend combination."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lumigator_schemas.extras import ListingResponse
from lumigator_schemas.models import ModelsResponse
from lumigator_sdk.strict_schemas import SecretGetRequest
from sqlalchemy import select

from assay.records import SecretRecord
from assay.runtime import Runtime
from assay.services.secrets import SecretService

API = "/api/v1"
VALUE = "sk-test-'quoted' \"value\"\nwith newline"


def test_health_checks_each_component(client: TestClient) -> None:
    body = client.get(f"{API}/health/").json()
    assert body["status"] == "OK"
    assert body["deployment_type"] == "local"
    assert body["checks"] == {
        "database": {"status": "ok", "detail": None},
        "storage": {"status": "ok", "detail": None},
    }


def test_models_catalog_filters_by_task(client: TestClient) -> None:
    everything = ListingResponse[ModelsResponse].model_validate(client.get(f"{API}/models/").json())
    assert everything.total == len(everything.items) > 5
    translation = client.get(f"{API}/models/", params={"tasks": "translation"}).json()
    assert 0 < translation["total"] < everything.total
    assert all(any("translation" in task for task in item["tasks"]) for item in translation["items"])
    both = client.get(f"{API}/models/?tasks=translation&tasks=question-answering").json()
    assert both["total"] >= translation["total"]


def test_models_unknown_task_is_400(client: TestClient) -> None:
    response = client.get(f"{API}/models/", params={"tasks": "painting"})
    assert response.status_code == 400
    assert "painting" in response.json()["detail"] and "summarization" in response.json()["detail"]


def test_secret_lifecycle_never_returns_the_value(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"value": VALUE, "description": "OpenAI key"}
    assert client.put(f"{API}/settings/secrets/OPENAI_API_KEY", json=body).status_code == 201
    assert client.put(f"{API}/settings/secrets/openai_api_key", json=body).status_code == 204

    listing = client.get(f"{API}/settings/secrets/")
    items = [SecretGetRequest.model_validate(item) for item in listing.json()]
    assert [(item.name, item.description) for item in items] == [("openai_api_key", "OpenAI key")]
    assert VALUE not in listing.text

    with runtime.session_factory() as session:
        stored = session.scalars(select(SecretRecord)).one()
        assert VALUE not in stored.ciphertext
        assert SecretService(session, runtime.secret_box).reveal("default", "OPENAI_API_KEY") == VALUE
    assert VALUE not in caplog.text

    assert client.delete(f"{API}/settings/secrets/openai_api_key").status_code == 204
    assert client.delete(f"{API}/settings/secrets/openai_api_key").status_code == 404
    assert client.get(f"{API}/settings/secrets").json() == []


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("bad name!", {"value": "x", "description": "d"}, "secret_name"),
        ("ok", {"value": "", "description": "d"}, "value"),
        ("ok", {"description": "d"}, "value"),
        ("ok", {"value": "x" * 1025, "description": "d"}, "value"),
        ("ok", {"value": "x", "description": "d", "allowed_hosts": ["ftp://host"]}, "allowed_hosts"),
    ],
)
def test_secret_bad_input_is_422_naming_the_field(
    client: TestClient, name: str, body: dict[str, Any], field: str
) -> None:
    response = client.put(f"{API}/settings/secrets/{name}", json=body)
    assert response.status_code == 422
    assert field in response.text
    if body.get("value"):
        assert body["value"] not in response.text
    assert client.get(f"{API}/settings/secrets").json() == []
