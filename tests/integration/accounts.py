"""Builders for tests that need several people: accounts with API tokens, projects, roles.

In embedded mode an anonymous request acts as the local admin, so these default to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient

API = "/api/v1"


@dataclass(frozen=True)
class Account:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _as(actor: Account | None) -> dict[str, str]:
    return actor.headers if actor is not None else {}


def add_account(
    client: TestClient,
    username: str,
    *,
    admin: bool = False,
    password: str | None = None,
    actor: Account | None = None,
) -> Account:
    """A new user with one API token named ``tests``."""
    body: dict[str, object] = {"username": username, "is_admin": admin}
    if password is not None:
        body["password"] = password
    created = client.post(f"{API}/users", json=body, headers=_as(actor))
    assert created.status_code == 201, created.text
    return Account(username, issue_token(client, username, "tests", actor=actor))


def issue_token(
    client: TestClient, username: str, name: str, *, actor: Account | None = None, **fields: object
) -> str:
    response = client.post(
        f"{API}/users/{username}/tokens", json={"name": name, **fields}, headers=_as(actor)
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def create_project(client: TestClient, name: str, owner: Account | None = None) -> str:
    response = client.post(f"{API}/projects", json={"name": name}, headers=_as(owner))
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


def add_member(
    client: TestClient, project: str, account: Account, role: str, actor: Account | None = None
) -> None:
    response = client.put(
        f"{API}/projects/{project}/members/{account.username}", json={"role": role}, headers=_as(actor)
    )
    assert response.status_code in (200, 201), response.text


def error_field(response: httpx.Response) -> str:
    """The input an error names: ``field`` of domain errors, the last ``loc`` of validation."""
    body = response.json()
    if isinstance(body["detail"], list):
        return str(body["detail"][0]["loc"][-1])
    return str(body["field"])
