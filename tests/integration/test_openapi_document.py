"""The OpenAPI document is whole, and the errors the app sends are the ones it documents."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.config import Settings
from tests.helpers import csv_bytes
from tests.integration.accounts import API

DOCUMENT = create_app(Settings()).openapi()


def references(node: object, where: str = "#") -> list[tuple[str, str]]:
    """Every ``$ref`` of the document with where it is."""
    if isinstance(node, dict):
        found = [(where, node["$ref"])] if "$ref" in node else []
        for key, value in node.items():
            found += references(value, f"{where}/{key}")
        return found
    if isinstance(node, list):
        return [ref for index, value in enumerate(node) for ref in references(value, f"{where}/{index}")]
    return []


def resolve(pointer: str) -> object:
    assert pointer.startswith("#/"), pointer
    node: Any = DOCUMENT
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves() -> None:
    found = references(DOCUMENT)
    assert len(found) > 100
    unresolved = []
    for where, ref in found:
        try:
            resolve(ref)
        except (KeyError, IndexError, AssertionError):
            unresolved.append(f"{ref} at {where}")
    assert unresolved == []


def test_hand_written_bodies_keep_no_local_definitions() -> None:
    assert not [where for where, _ in references(DOCUMENT) if "$defs" in where]
    body = DOCUMENT["paths"][f"{API}/jobs/script"]["post"]["requestBody"]["content"]["application/json"]
    assert "ScriptJobConfig" in DOCUMENT["components"]["schemas"]
    assert "$defs" not in body["schema"]


def test_a_service_body_is_documented_as_one_of_its_kinds() -> None:
    body = DOCUMENT["paths"][f"{API}/projects/{{project}}/services"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    kinds = [ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]]
    assert kinds == ["AppServiceCreate", "ModelServiceCreate"]
    model = DOCUMENT["components"]["schemas"]["ModelServiceCreate"]["properties"]
    assert {"provider", "model", "engine", "options", "generation", "num_cpus", "num_gpus"} <= model.keys()


def documented(path: str, method: str, status: int) -> dict[str, Any]:
    response = DOCUMENT["paths"][path][method]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return {**schema, "components": DOCUMENT["components"]}


def assert_documented(response: httpx.Response, path: str, method: str) -> None:
    jsonschema.validate(response.json(), documented(path, method, response.status_code))


def test_domain_and_validation_422s_both_match_the_documented_shape(client: TestClient) -> None:
    domain = client.post(f"{API}/datasets", files={"dataset": ("rows.csv", b"text\nhello\n")})
    assert domain.status_code == 422
    assert domain.json() == {
        "detail": "required column 'examples' is missing (columns: text)",
        "field": "dataset",
    }
    assert_documented(domain, f"{API}/datasets", "post")

    validation = client.get(f"{API}/datasets", params={"skip": -1})
    assert validation.status_code == 422
    assert validation.json()["detail"][0]["loc"] == ["query", "skip"]
    assert_documented(validation, f"{API}/datasets", "get")


def test_other_errors_match_the_documented_shape(client: TestClient) -> None:
    missing = client.get(f"{API}/datasets/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert_documented(missing, f"{API}/datasets/{{dataset_id}}", "get")

    malformed = client.post(
        f"{API}/datasets",
        content=b"--x\r\nContent-Disposition: form-data;\r name=dataset\r\n\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert malformed.status_code == 400
    assert_documented(malformed, f"{API}/datasets", "post")

    uploaded = client.post(f"{API}/datasets", files={"dataset": ("rows.csv", csv_bytes())})
    assert uploaded.status_code == 201
    assert_documented(uploaded, f"{API}/datasets", "post")
