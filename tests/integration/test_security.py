"""Every route of the app, with credentials required: who gets in and who does not.

The routes come from the app itself, so a new route fails ``test_every_route_is_classified``
until it is added to ``EXPECTED`` with the access it needs, and is then checked like the rest:
anonymous callers get 401, revoked and expired tokens get 401, a project's outsiders get 404,
members below the needed role get 403, the needed role gets through, and no response or log
line ever shows a secret value, a token or a password.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import update

from assay.records import TokenRecord
from assay.records.base import utcnow
from assay.runtime import Runtime
from tests.integration.accounts import API, Account, add_account, add_member, create_project, issue_token

PUBLIC = "public"  # no credentials needed (signed links carry their own)
SIGNED_IN = "signed-in"  # any valid credentials
SELF = "self"  # the caller's own account, or an administrator
ADMIN = "admin"
JOB = "job"  # a job's own credential only: no user credential, not even an administrator's
PAGE = "page"  # a web UI page: without valid credentials, the sign-in page; outsiders get 404
VIEWER, EDITOR, OWNER = "viewer", "editor", "owner"
ROLES = (VIEWER, EDITOR, OWNER)

PROJECT_NAME = "Secure Lab"
PROJECT = "secure-lab"
SECRET = "sk-live-must-never-leak-0123456789"
PASSWORD = "owner password never logged"

DATASETS = {
    ("POST", ""): EDITOR,
    ("GET", ""): VIEWER,
    ("GET", "/{dataset_id}"): VIEWER,
    ("DELETE", "/{dataset_id}"): EDITOR,
    ("GET", "/{dataset_id}/download"): VIEWER,
    ("GET", "/{dataset_id}/rows"): VIEWER,
}
JOBS = {
    **{("POST", f"/{kind}"): EDITOR for kind in ("inference", "annotate", "evaluator", "script")},
    ("GET", ""): VIEWER,
    ("GET", "/{job_id}"): VIEWER,
    ("GET", "/{job_id}/logs"): VIEWER,
    ("GET", "/{job_id}/result"): VIEWER,
    ("GET", "/{job_id}/result/download"): VIEWER,
    ("GET", "/{job_id}/dataset"): VIEWER,
    ("PUT", "/{job_id}/stop"): EDITOR,
}
EXPERIMENTS = {
    ("POST", ""): EDITOR,
    ("GET", ""): VIEWER,
    ("GET", "/all"): VIEWER,
    ("GET", "/{experiment_id}"): VIEWER,
    ("GET", "/{experiment_id}/comparison"): VIEWER,
    ("GET", "/{experiment_id}/examples"): VIEWER,
    ("GET", "/{experiment_id}/export"): VIEWER,
    ("DELETE", "/{experiment_id}"): EDITOR,
}
WORKFLOWS = {
    ("POST", ""): EDITOR,
    ("GET", "/{workflow_id}"): VIEWER,
    ("GET", "/{workflow_id}/logs"): VIEWER,
    ("GET", "/{workflow_id}/result/download"): VIEWER,
    ("PUT", "/{workflow_id}/stop"): EDITOR,
    ("POST", "/{workflow_id}/retry"): EDITOR,
    ("DELETE", "/{workflow_id}"): EDITOR,
}
SECRETS = {("GET", ""): VIEWER, ("PUT", "/{secret_name}"): EDITOR, ("DELETE", "/{secret_name}"): EDITOR}
FILES = {
    ("POST", ""): EDITOR,
    ("GET", ""): VIEWER,
    ("GET", "/{folder}/{name}"): VIEWER,
    ("GET", "/{folder}/{name}/versions"): VIEWER,
    ("GET", "/{folder}/{name}/content"): VIEWER,
    ("DELETE", "/{folder}/{name}"): EDITOR,
}

SERVICES = {
    ("POST", ""): EDITOR,
    ("GET", ""): VIEWER,
    ("GET", "/{name}"): VIEWER,
    ("GET", "/{name}/status"): VIEWER,
    ("GET", "/{name}/logs"): VIEWER,
    ("DELETE", "/{name}"): EDITOR,
    **{("PUT", f"/{{name}}/{action}"): EDITOR for action in ("stop", "start", "restart", "scale")},
    # The gateway: any member may call a service.
    **{
        (method, "/{name}/proxy/{path:path}"): VIEWER
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
}


def mounted(prefix: str, routes: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {(method, f"{API}{prefix}{path}"): access for (method, path), access in routes.items()}


EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("HEAD", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/redoc.standalone.js"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", f"{API}/health"): PUBLIC,
    ("POST", f"{API}/auth/login"): PUBLIC,
    ("POST", f"{API}/auth/logout"): PUBLIC,
    ("GET", f"{API}/objects"): PUBLIC,
    ("GET", f"{API}/models"): SIGNED_IN,
    ("GET", "/login"): PUBLIC,
    ("GET", "/switch"): PUBLIC,  # a redirect to the project's page, which then checks
    ("GET", "/"): PAGE,
    ("GET", "/account"): PAGE,
    ("GET", "/users"): PAGE,
    **{
        ("GET", f"/p/{{project}}{path}"): PAGE
        for path in (
            "",
            "/datasets",
            "/datasets/{dataset_id}",
            "/experiments",
            "/experiments/{experiment_id}",
            "/experiments/{experiment_id}/live",
            "/experiments/{experiment_id}/examples",
            "/jobs",
            "/jobs/{job_id}",
            "/jobs/{job_id}/live",
            "/services",
            "/services/{name}",
            "/services/{name}/live",
            "/members",
            "/secrets",
            "/files",
            "/files/{folder}/{name}",
        )
    },
    **mounted("/datasets", DATASETS),
    **mounted("/projects/{project}/datasets", DATASETS),
    **mounted("/jobs", JOBS),
    **mounted("/projects/{project}/jobs", JOBS),
    **mounted("/experiments", EXPERIMENTS),
    **mounted("/projects/{project}/experiments", EXPERIMENTS),
    **mounted("/workflows", WORKFLOWS),
    **mounted("/projects/{project}/workflows", WORKFLOWS),
    **mounted("/settings/secrets", SECRETS),
    **mounted("/projects/{project}/secrets", SECRETS),
    **mounted("/projects/{project}/files", FILES),
    **mounted("/projects/{project}/services", SERVICES),
    **mounted(
        "/projects",
        {
            ("GET", ""): SIGNED_IN,
            ("POST", ""): SIGNED_IN,
            ("GET", "/{project}"): VIEWER,
            ("PATCH", "/{project}"): OWNER,
            ("DELETE", "/{project}"): OWNER,
            ("GET", "/{project}/members"): VIEWER,
            ("PUT", "/{project}/members/{username}"): OWNER,
            ("DELETE", "/{project}/members/{username}"): OWNER,
            ("GET", "/{project}/audit"): OWNER,
        },
    ),
    ("GET", f"{API}/audit"): ADMIN,
    **mounted(
        "/job",
        {
            ("POST", "/claim"): JOB,
            ("GET", "/secret"): JOB,
            ("POST", "/service/secrets"): JOB,
            ("GET", "/objects"): JOB,
            ("DELETE", "/objects"): JOB,
            ("HEAD", "/objects/{key:path}"): JOB,
            ("GET", "/objects/{key:path}"): JOB,
            ("PUT", "/objects/{key:path}"): JOB,
            # The warm worker's own token: no user credential either.
            ("POST", "/worker/take"): JOB,
            ("POST", "/worker/beat"): JOB,
            ("POST", "/worker/finished"): JOB,
        },
    ),
    **mounted(
        "/users",
        {
            ("GET", ""): ADMIN,
            ("POST", ""): ADMIN,
            ("GET", "/{user}"): SELF,
            ("PATCH", "/{user}"): SELF,
            ("DELETE", "/{user}"): ADMIN,
            ("GET", "/{user}/tokens"): SELF,
            ("POST", "/{user}/tokens"): SELF,
            ("DELETE", "/{user}/tokens/{token_id}"): SELF,
        },
    ),
}


def app_routes(client: TestClient) -> set[tuple[str, str]]:
    return {
        (method, context.path)
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        for method in getattr(context, "methods", None) or ()
        if context.path
    }


def test_every_route_is_classified(client: TestClient) -> None:
    routes = app_routes(client)
    assert routes - EXPECTED.keys() == set(), "new routes: add them to EXPECTED with the access they need"
    assert EXPECTED.keys() - routes == set(), "EXPECTED lists routes the app no longer has"


@dataclass
class World:
    admin: Account
    members: dict[str, Account]
    outsider: Account
    refused: dict[str, str]  # token state -> token
    known: list[str]  # every credential and secret value that must never leak


@pytest.fixture
def world(client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A project with one member per role, an outsider, a secret, and the app switched to
    ``ASSAY_AUTH=required`` once they exist."""
    admin = Account("admin", issue_token(client, "admin", "admin"))
    owner = add_account(client, "olivia", password=PASSWORD)
    members = {OWNER: owner, EDITOR: add_account(client, "eddie"), VIEWER: add_account(client, "vera")}
    outsider = add_account(client, "nora")
    create_project(client, PROJECT_NAME, owner)
    for role in (EDITOR, VIEWER):
        add_member(client, PROJECT, members[role], role, owner)
    body = {"value": SECRET, "description": "provider key"}
    assert (
        client.put(f"{API}/projects/{PROJECT}/secrets/openai", json=body, headers=owner.headers).status_code
        == 201
    )

    revoked = issue_token(client, "olivia", "revoked", actor=owner)
    token_id = next(
        t["id"]
        for t in client.get(f"{API}/users/me/tokens", headers=owner.headers).json()
        if t["name"] == "revoked"
    )
    assert client.delete(f"{API}/users/me/tokens/{token_id}", headers=owner.headers).status_code == 204
    expired = issue_token(client, "olivia", "expired", actor=owner, expires_in_days=30)
    with runtime.session_factory() as session:
        session.execute(update(TokenRecord).where(TokenRecord.name == "expired").values(expires_at=utcnow()))
        session.commit()

    monkeypatch.setattr(runtime.settings, "auth", "required")
    tokens = [admin.token, outsider.token, revoked, expired, *(m.token for m in members.values())]
    yield World(
        admin, members, outsider, {"revoked": revoked, "expired": expired}, [SECRET, PASSWORD, *tokens]
    )


def url_for(path: str, *, allowed: bool) -> str:
    """The route's path with values that reach its access check: for the check that the right
    caller gets through, values that make no change (the caller itself, unknown names and ids)."""
    values = {
        "project": PROJECT,
        "dataset_id": uuid.uuid4(),
        "job_id": uuid.uuid4(),
        "experiment_id": uuid.uuid4(),
        "workflow_id": uuid.uuid4(),
        "token_id": uuid.uuid4(),
        "secret_name": "probe",
        "folder": "other",
        "name": "probe.txt",
        "user": "me" if allowed else "olivia",
        "username": "nobody" if allowed else "vera",
        "key": f"projects/{PROJECT}/datasets/{uuid.uuid4()}/dataset.parquet",
        "path": "probe",
    }
    return path.replace(":path}", "}").format(**values)


def call(
    client: TestClient, method: str, path: str, account: Account | None, *, allowed: bool
) -> httpx.Response:
    headers = {"X-Assay-Project": PROJECT} if "{project}" not in path else {}
    if account is not None:
        headers.update(account.headers)
    return client.request(method, url_for(path, allowed=allowed), headers=headers)


def field(response: httpx.Response) -> object:
    body = response.json()
    return body.get("field") if isinstance(body, dict) else None


def test_access_to_every_route(client: TestClient, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []

    def check(
        method: str, path: str, account: Account | None, expected: str, *, allowed: bool = False
    ) -> None:
        response = call(client, method, path, account, allowed=allowed)
        responses.append(response)
        status = response.status_code
        caller = account.username if account else "anonymous"
        label = f"{method} {path} as {caller}: {status} {response.text[:200]}"
        if expected == "401":
            assert status == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="assay"', label
        elif expected == "403":
            assert status == 403, label
        elif expected.startswith("404"):
            assert status == 404 and f"404:{field(response)}" == expected, label
        else:
            assert status not in (401, 403) and not (
                status == 404 and field(response) in ("project", "user")
            ), label

    for (method, path), access in sorted(EXPECTED.items()):
        if access == PUBLIC:
            check(method, path, None, "through")
            continue
        if access == PAGE:
            for token in (None, *world.refused.values()):
                account = Account("olivia", token) if token else None
                response = call(client, method, path, account, allowed=False)
                assert [r.status_code for r in response.history] == [303], path
                assert response.url.path == "/login", path
            if "{project}" in path:
                assert call(client, method, path, world.outsider, allowed=False).status_code == 404, path
            continue
        check(method, path, None, "401")
        for token in world.refused.values():
            check(method, path, Account("olivia", token), "401")
        if access == JOB:
            for account in (world.admin, world.members[OWNER]):
                check(method, path, account, "401")
        elif access == SIGNED_IN:
            check(method, path, world.outsider, "through", allowed=True)
        elif access == ADMIN:
            check(method, path, world.members[OWNER], "403")
            check(method, path, world.admin, "through", allowed=True)
        elif access == SELF:
            check(method, path, world.outsider, "404:user")
            check(method, path, world.outsider, "through", allowed=True)
            check(method, path, world.admin, "through")
        else:
            check(method, path, world.outsider, "404:project")
            for role in ROLES[: ROLES.index(access)]:
                check(method, path, world.members[role], "403")
            check(method, path, world.members[access], "through", allowed=True)

    leaks = [value for value in world.known for response in responses if value in response.text]
    assert leaks == []
    assert [value for value in world.known if value in caplog.text] == []


def test_secret_values_never_leave_the_server(client: TestClient, world: World) -> None:
    """Every readable route, as the owner, after the secret was stored through both mounts."""
    owner = world.members[OWNER]
    lumigator = {**owner.headers, "X-Assay-Project": PROJECT}
    assert (
        client.put(
            f"{API}/settings/secrets/second", json={"value": SECRET, "description": "d"}, headers=lumigator
        ).status_code
        == 201
    )
    for (method, path), access in EXPECTED.items():
        if method == "GET" and access in ROLES:
            response = call(client, method, path, owner, allowed=True)
            assert SECRET not in response.text, path
    names = client.get(f"{API}/projects/{PROJECT}/secrets", headers=owner.headers).json()
    assert names == [
        {"name": "openai", "description": "provider key", "allowed_hosts": []},
        {"name": "second", "description": "d", "allowed_hosts": []},
    ]
