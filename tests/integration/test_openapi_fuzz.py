"""Schemathesis over the app's own ``/openapi.json``: every operation, bounded examples.

A real server (uvicorn on loopback) answers requests generated from the document, sent with the
API token of a user who owns a project holding a dataset, a file, an experiment and a script
job. Every answer must be a status documented for its operation, match the documented schema,
and never be a 5xx. The reconciler's interval is an hour, so the fuzzed jobs never run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from assay.api.app import create_app
from assay.config import Settings
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.accounts import API, Account, add_account, create_project
from tests.serving import live_server

pytestmark = pytest.mark.slow

# Small enough that every operation, on both databases, fits in about three minutes on 2 cores.
MAX_EXAMPLES = 10
FUZZ_BACKENDS = [Backend("sqlite", "local"), Backend("postgresql", "local")]
PROJECT_NAME = "Fuzz Lab"
PROJECT = "fuzz-lab"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@dataclass(frozen=True)
class Target:
    base_url: str
    owner: Account
    # Path parameters naming objects that exist, so that reads get past the 404.
    existing: dict[str, str]


@pytest.fixture(scope="module", params=FUZZ_BACKENDS, ids=lambda backend: backend.id)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    backend: Backend = request.param
    home = tmp_path_factory.mktemp(f"fuzz-{backend.id}")
    quiet = {"reconcile_interval_seconds": 3600.0, "reconcile_wakeup": False}
    settings = make_settings(backend, home, request, **quiet)
    with live_server(settings) as (_, base_url), httpx.Client(base_url=base_url, timeout=30) as client:
        yield Target(base_url, *_seed(client))


def _seed(client: httpx.Client) -> tuple[Account, dict[str, str]]:
    """As the local admin (anonymous on loopback): an owner, their project and its objects."""
    owner = add_account(client, "fuzz-owner")  # type: ignore[arg-type]
    # Allowed to run code, so that the fuzzed script route gets past the permission check.
    client.patch(f"{API}/users/fuzz-owner", json={"can_run_code": True}).raise_for_status()
    create_project(client, PROJECT_NAME, owner)  # type: ignore[arg-type]
    in_project = f"{API}/projects/{PROJECT}"

    def created(response: httpx.Response) -> str:
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    dataset_id = created(
        client.post(
            f"{in_project}/datasets", files={"dataset": ("rows.csv", csv_bytes())}, headers=owner.headers
        )
    )
    client.post(
        f"{in_project}/files",
        files={"file": ("notes.txt", b"notes")},
        data={"folder": "other"},
        headers=owner.headers,
    ).raise_for_status()
    job = {"name": "fuzz", "job_config": {"job_type": "script", "argv": ["true"]}}
    job_id = created(client.post(f"{in_project}/jobs/script", json=job, headers=owner.headers))
    experiment = {"name": "fuzz", "dataset": dataset_id}
    experiment_id = created(client.post(f"{in_project}/experiments", json=experiment, headers=owner.headers))
    existing = {
        "project": PROJECT,
        "dataset_id": dataset_id,
        "job_id": job_id,
        "experiment_id": experiment_id,
        "folder": "other",
        "name": "notes.txt",
    }
    return owner, existing


# The document depends on no setting: the one an app builds before it starts is the one it serves
# (``test_the_served_document_is_the_fuzzed_one`` holds that).
DOCUMENT = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_fuzzed_one(target: Target) -> None:
    assert httpx.get(f"{target.base_url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, target: Target) -> None:
    # Deleting the seeded objects (the project above all) would leave later operations
    # nothing to read; deletes get the generated names, which exist nowhere.
    if case.method != "DELETE" and case.path_parameters:
        for name in case.path_parameters.keys() & target.existing.keys():
            case.path_parameters[name] = target.existing[name]
    headers = {**target.owner.headers, "X-Assay-Project": PROJECT}
    case.call_and_validate(base_url=target.base_url, headers=headers, checks=CHECKS)
