"""Users, login, sessions, API tokens and the default project, on every backend combination."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from assay.records import LoginFailureRecord, TokenRecord
from assay.records.base import utcnow
from assay.runtime import Runtime
from tests.helpers import csv_bytes
from tests.integration.accounts import API, add_account, create_project, issue_token

PASSWORD = "correct horse battery"


@pytest.fixture
def require_auth(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Switch the running app to ``ASSAY_AUTH=required`` (after the test's setup, which acts
    as the local admin of embedded mode)."""
    return lambda: monkeypatch.setattr(runtime.settings, "auth", "required")


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def whoami(client: TestClient, headers: dict[str, str] | None = None) -> int | str:
    response = client.get(f"{API}/users/me", headers=headers or {})
    return response.json()["username"] if response.status_code == 200 else response.status_code


def test_embedded_mode_lets_the_local_admin_in(client: TestClient) -> None:
    me = client.get(f"{API}/users/me").json()
    assert (me["username"], me["is_admin"], me["default_project"]) == ("admin", True, "default")
    assert me["has_password"] is False


def test_required_auth_refuses_anonymous_callers_but_not_health(
    client: TestClient, require_auth: Callable[[], None]
) -> None:
    require_auth()
    response = client.get(f"{API}/datasets")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="assay"'
    assert "token" in response.json()["detail"]
    assert client.get(f"{API}/health/").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        bearer("assay_not-a-token"),
        basic("admin", "assay_not-a-token"),
        {"Authorization": "Basic !!not base64!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer "},
    ],
    ids=["bearer", "basic", "bad-base64", "no-colon", "scheme", "empty"],
)
def test_wrong_credentials_are_refused_even_in_embedded_mode(
    client: TestClient, headers: dict[str, str]
) -> None:
    assert whoami(client, headers) == 401


def test_forged_session_cookie_is_refused(client: TestClient) -> None:
    client.cookies.set("assay_session", "assay_forged")
    assert whoami(client) == 401


def test_token_works_as_bearer_and_basic_and_is_refused_at_once_when_revoked(
    client: TestClient, require_auth: Callable[[], None]
) -> None:
    alice = add_account(client, "alice")
    require_auth()
    assert whoami(client, alice.headers) == "alice"
    assert whoami(client, basic("alice", alice.token)) == "alice"
    assert whoami(client, basic("ALICE", alice.token)) == "alice"
    assert whoami(client, basic("admin", alice.token)) == 401

    listing = client.get(f"{API}/users/me/tokens", headers=alice.headers)
    assert [item["name"] for item in listing.json()] == ["tests"]
    assert "token" not in listing.json()[0] and alice.token not in listing.text
    assert listing.json()[0]["last_used_at"] is not None

    token_id = listing.json()[0]["id"]
    second = issue_token(client, "alice", "ci", actor=alice)
    assert client.delete(f"{API}/users/me/tokens/{token_id}", headers=alice.headers).status_code == 204
    assert whoami(client, alice.headers) == 401
    assert whoami(client, basic("alice", alice.token)) == 401
    assert whoami(client, bearer(second)) == "alice"
    assert client.delete(f"{API}/users/me/tokens/{token_id}", headers=bearer(second)).status_code == 404


def test_expired_token_is_refused(
    client: TestClient, runtime: Runtime, require_auth: Callable[[], None]
) -> None:
    add_account(client, "alice")
    token = issue_token(client, "alice", "short", expires_in_days=1)
    require_auth()
    created = client.get(f"{API}/users/me/tokens", headers=bearer(token)).json()
    expiry = dt.datetime.fromisoformat(
        next(item for item in created if item["name"] == "short")["expires_at"]
    )
    assert dt.timedelta(hours=23) < expiry - utcnow() <= dt.timedelta(days=1)
    with runtime.session_factory() as session:
        session.execute(update(TokenRecord).where(TokenRecord.name == "short").values(expires_at=utcnow()))
        session.commit()
    assert whoami(client, bearer(token)) == 401


def test_tokens_are_stored_as_hashes_only(client: TestClient, runtime: Runtime) -> None:
    alice = add_account(client, "alice")
    with runtime.session_factory() as session:
        stored = session.scalars(select(TokenRecord)).one()
    assert stored.token_hash == hashlib.sha256(alice.token.encode()).hexdigest()
    assert alice.token.startswith("assay_") and len(alice.token) > 40


def test_token_names_are_unique_per_user_and_validated(client: TestClient) -> None:
    add_account(client, "alice")
    assert client.post(f"{API}/users/alice/tokens", json={"name": "tests"}).status_code == 409
    assert client.post(f"{API}/users/alice/tokens", json={"name": ""}).status_code == 422
    response = client.post(f"{API}/users/alice/tokens", json={"name": "x", "expires_in_days": 0})
    assert response.status_code == 422 and "expires_in_days" in response.text


def test_login_opens_a_cookie_session_that_logout_ends(
    client: TestClient, require_auth: Callable[[], None]
) -> None:
    add_account(client, "bob", password=PASSWORD)
    require_auth()
    response = client.post(f"{API}/auth/login", json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["username"] == "bob"
    cookie = response.headers["set-cookie"]
    assert "assay_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and PASSWORD not in response.text
    assert whoami(client) == "bob"

    session_id = client.cookies["assay_session"]
    assert client.post(f"{API}/auth/logout").status_code == 204
    assert "assay_session" not in client.cookies
    client.cookies.set("assay_session", session_id)
    assert whoami(client) == 401


def test_failed_logins_are_rate_limited_per_user_and_address(
    client: TestClient, runtime: Runtime, require_auth: Callable[[], None]
) -> None:
    add_account(client, "bob", password=PASSWORD)
    require_auth()
    login = {"username": "bob", "password": PASSWORD}
    for _ in range(runtime.settings.login_max_failures):
        wrong = client.post(f"{API}/auth/login", json={"username": "bob", "password": "guess-guess"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong user name or password"
    assert client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x"}).status_code == 401

    refused = client.post(f"{API}/auth/login", json=login)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= runtime.settings.login_window_seconds + 1

    elsewhere = TestClient(client.app, client=("10.1.2.3", 40000))
    assert elsewhere.post(f"{API}/auth/login", json=login).status_code == 200

    with runtime.session_factory() as session:
        window = dt.timedelta(seconds=runtime.settings.login_window_seconds)
        session.execute(update(LoginFailureRecord).values(created_at=utcnow() - window))
        session.commit()
    assert client.post(f"{API}/auth/login", json=login).status_code == 200
    with runtime.session_factory() as session:
        keys = session.scalars(select(LoginFailureRecord.key)).all()
    assert keys == ["nobody|testclient"], "a success clears the failures of its user and address"


def test_changing_your_password_needs_the_current_one_and_ends_sessions(
    client: TestClient, require_auth: Callable[[], None]
) -> None:
    bob = add_account(client, "bob", password=PASSWORD)
    require_auth()
    assert client.post(f"{API}/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200
    new = {"password": "a brand new passphrase"}
    missing = client.patch(f"{API}/users/me", json=new)
    assert missing.status_code == 403 and missing.json()["field"] == "current_password"
    wrong = client.patch(f"{API}/users/me", json={**new, "current_password": "nope"})
    assert wrong.status_code == 403
    assert client.patch(f"{API}/users/me", json={**new, "current_password": PASSWORD}).status_code == 200
    assert whoami(client) == 401, "the session ends with the password change"
    assert whoami(client, bob.headers) == "bob", "API tokens stay valid"
    login = {"username": "bob", "password": new["password"]}
    assert client.post(f"{API}/auth/login", json=login).status_code == 200
    short = client.patch(f"{API}/users/me", json={"password": "tiny7", "current_password": new["password"]})
    assert short.status_code == 422 and "tiny7" not in short.text


def test_accounts_are_private_to_their_owner_and_administrators(client: TestClient) -> None:
    alice = add_account(client, "alice")
    bob = add_account(client, "bob")
    assert client.get(f"{API}/users/bob", headers=alice.headers).status_code == 404
    assert client.get(f"{API}/users/bob/tokens", headers=alice.headers).status_code == 404
    assert client.get(f"{API}/users", headers=alice.headers).status_code == 403
    assert client.post(f"{API}/users", json={"username": "eve"}, headers=alice.headers).status_code == 403
    assert client.patch(f"{API}/users/me", json={"is_admin": True}, headers=alice.headers).status_code == 403
    assert client.get(f"{API}/users/alice", headers=alice.headers).json()["username"] == "alice"

    assert [user["username"] for user in client.get(f"{API}/users").json()] == ["admin", "alice", "bob"]
    for_bob = issue_token(client, "bob", "from-admin")
    assert whoami(client, bearer(for_bob)) == "bob"
    assert client.delete(f"{API}/users/bob").status_code == 204
    assert whoami(client, bob.headers) == 401
    assert whoami(client, bearer(for_bob)) == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "alice"}, 409, "username"),
        ({"username": "me"}, 409, "username"),
        ({"username": "Not Valid"}, 422, "username"),
        ({"username": "x"}, 422, "username"),
        ({"username": "carol", "password": "tiny7"}, 422, "password"),
        ({"username": "carol", "role": "admin"}, 422, "role"),
    ],
)
def test_bad_new_accounts_are_refused_naming_the_field(
    client: TestClient, body: dict[str, str], status: int, field: str
) -> None:
    add_account(client, "alice")
    response = client.post(f"{API}/users", json=body)
    assert response.status_code == status and field in response.text
    assert "tiny7" not in response.text


def test_the_server_admin_account_stays_an_administrator(client: TestClient) -> None:
    other = add_account(client, "root2", admin=True)
    assert client.delete(f"{API}/users/me").status_code == 409
    assert client.delete(f"{API}/users/admin", headers=other.headers).status_code == 409
    assert (
        client.patch(f"{API}/users/admin", json={"is_admin": False}, headers=other.headers).status_code == 409
    )
    assert client.patch(f"{API}/users/root2", json={"is_admin": False}).json()["is_admin"] is False
    assert client.delete(f"{API}/users/root2").status_code == 204


def test_default_project_drives_the_lumigator_routes(client: TestClient) -> None:
    alice = add_account(client, "alice")
    assert client.get(f"{API}/users/me", headers=alice.headers).json()["default_project"] is None
    assert client.get(f"{API}/datasets", headers=alice.headers).status_code == 404

    project = create_project(client, "Alice Lab", alice)
    assert client.get(f"{API}/users/me", headers=alice.headers).json()["default_project"] == project
    upload = {"dataset": ("a.csv", csv_bytes())}
    assert client.post(f"{API}/datasets", files=upload, headers=alice.headers).status_code == 201
    assert client.get(f"{API}/projects/{project}/datasets").json()["total"] == 1
    assert client.get(f"{API}/projects/default/datasets").json()["total"] == 0

    other = {**alice.headers, "X-Assay-Project": "default"}
    assert client.get(f"{API}/datasets", headers=other).status_code == 404
    assert client.get(f"{API}/datasets", headers={"X-Assay-Project": project}).json()["total"] == 1
    refused = client.patch(f"{API}/users/me", json={"default_project": "default"}, headers=alice.headers)
    assert refused.status_code == 404 and refused.json()["field"] == "project"
    cleared = client.patch(f"{API}/users/me", json={"default_project": None}, headers=alice.headers)
    assert cleared.json()["default_project"] is None
    assert client.get(f"{API}/datasets", headers=alice.headers).status_code == 404
