"""The HTTP edge through the whole app: what a foreign Host, a page of another site, a
non-JSON body or an oversized head gets, what every response carries, and the docs pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.api.app import create_app
from tests.backends import Backend, make_settings
from tests.helpers import csv_bytes
from tests.integration.accounts import API, add_account

EVIL = {"Origin": "http://evil.example"}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
SIMPLE_TYPES = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]
SCRIPT_JOB = {"name": "pwn", "job_config": {"job_type": "script", "argv": ["id"]}}


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(Backend("sqlite", "local"), Path(tmp_path_factory.mktemp("edge")), request)
    with TestClient(create_app(settings)) as client:
        yield client


def project_ids(app: TestClient) -> set[str]:
    return {item["id"] for item in app.get(f"{API}/projects").json()}


def job_count(app: TestClient) -> int:
    total: int = app.get(f"{API}/jobs/").json()["total"]
    return total


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io"])
def test_a_foreign_host_is_refused(app: TestClient, host: str) -> None:
    for response in (
        app.get(f"{API}/health/", headers={"Host": host}),
        app.post(f"{API}/jobs/script", json=SCRIPT_JOB, headers={"Host": host}),
    ):
        assert response.status_code == 400
        assert response.json()["field"] == "Host" and "ASSAY_ALLOWED_HOSTS" in response.json()["detail"]
    assert job_count(app) == 0


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:1234", "testserver"])
def test_loopback_names_are_served_on_any_port(app: TestClient, host: str) -> None:
    assert app.get(f"{API}/health/", headers={"Host": host}).status_code == 200


def test_a_page_of_another_site_cannot_act_as_the_local_admin(app: TestClient) -> None:
    before = project_ids(app)
    refused = [
        app.post(f"{API}/projects", json={"name": "evil project"}, headers=EVIL),
        app.post(f"{API}/jobs/script", json=SCRIPT_JOB, headers=EVIL),
        app.post(f"{API}/projects/default/jobs/script", json=SCRIPT_JOB, headers=CROSS_SITE),
        app.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())}, headers=EVIL),
        app.delete(f"{API}/projects/default", headers={"Referer": "http://evil.example/page"}),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert all(response.json()["field"] == "Origin" for response in refused)
    assert "ASSAY_ALLOWED_ORIGINS" in refused[0].json()["detail"]
    assert project_ids(app) == before and job_count(app) == 0
    assert app.get(f"{API}/datasets/").json()["total"] == 0
    # Reading is not refused (the browser keeps the answer from the page), nor are our own pages.
    assert app.get(f"{API}/projects", headers=EVIL).status_code == 200
    own = app.post(f"{API}/projects", json={"name": "own page"}, headers={"Origin": "http://testserver"})
    assert own.status_code == 201
    assert app.delete(f"{API}/projects/own-page", headers={"Origin": "http://testserver"}).status_code == 204


def test_a_session_cookie_is_ambient_too(app: TestClient) -> None:
    add_account(app, "carol", admin=True, password="carol's long password")
    web = TestClient(app.app)
    try:
        login = web.post(f"{API}/auth/login", json={"username": "carol", "password": "carol's long password"})
        assert login.status_code == 200 and web.cookies.get("assay_session")
        refused = web.post(f"{API}/projects", json={"name": "carol evil"}, headers=EVIL)
        assert refused.status_code == 403
        accepted = web.post(
            f"{API}/projects", json={"name": "carol own"}, headers={"Origin": "http://testserver"}
        )
        assert accepted.status_code == 201
        assert web.delete(f"{API}/projects/carol-own").status_code == 204
    finally:
        web.close()
    assert app.delete(f"{API}/users/carol").status_code == 204


def test_a_bearer_token_is_never_sent_by_a_browser_on_its_own(app: TestClient) -> None:
    dave = add_account(app, "dave")
    try:
        created = app.post(f"{API}/projects", json={"name": "dave lab"}, headers={**EVIL, **dave.headers})
        assert created.status_code == 201, created.text
        # HTTP Basic is replayed by browsers once a user typed it: it counts as ambient.
        basic = app.post(
            f"{API}/projects", json={"name": "dave other"}, headers=EVIL, auth=("dave", dave.token)
        )
        assert basic.status_code == 403
        assert app.delete(f"{API}/projects/dave-lab", headers=dave.headers).status_code == 204
    finally:
        assert app.delete(f"{API}/users/dave").status_code == 204


@pytest.mark.parametrize("content_type", SIMPLE_TYPES)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/jobs/script", SCRIPT_JOB),
        ("POST", "/projects/default/jobs/script", SCRIPT_JOB),
        ("POST", "/projects", {"name": "plain project"}),
        ("POST", "/auth/login", {"username": "admin", "password": "x"}),
        ("PUT", "/settings/secrets/openai_api_key", {"value": "sk-x", "description": ""}),
        ("POST", "/users", {"username": "mallory"}),
    ],
)
def test_json_routes_refuse_bodies_of_other_types(
    app: TestClient, content_type: str, method: str, path: str, body: dict[str, object]
) -> None:
    before = project_ids(app)
    headers = {"Content-Type": content_type}
    response = app.request(method, API + path, content=json.dumps(body), headers=headers)
    assert response.status_code == 415
    assert response.json()["field"] == "Content-Type"
    assert "application/json" in response.json()["detail"]
    assert project_ids(app) == before and job_count(app) == 0
    assert app.get(f"{API}/settings/secrets").json() == []


def test_a_body_without_content_type_is_json_only_from_clients_that_are_not_browsers(app: TestClient) -> None:
    body = json.dumps({"name": "sdk style"})
    from_browser = app.post(f"{API}/projects", content=body, headers={"Sec-Fetch-Mode": "no-cors"})
    assert from_browser.status_code == 415
    assert app.post(f"{API}/projects", content=body).status_code == 201
    assert app.delete(f"{API}/projects/sdk-style").status_code == 204


def test_uploads_stay_multipart(app: TestClient) -> None:
    created = app.post(f"{API}/datasets/", files={"dataset": ("d.csv", csv_bytes())})
    assert created.status_code == 201, created.text
    assert app.delete(f"{API}/datasets/{created.json()['id']}").status_code == 204


def test_an_oversized_head_gets_431_without_an_echo(app: TestClient) -> None:
    marker = "never-echoed-"
    response = app.get(f"{API}/nothing-here", headers={"X-Big": marker * 6000})
    assert response.status_code == 431
    assert response.json()["field"] == "headers" and marker not in response.text


SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def test_every_response_carries_the_security_headers(app: TestClient) -> None:
    responses = [
        app.get(f"{API}/health/"),
        app.get(f"{API}/no-such-route"),
        app.post(f"{API}/projects", content="{}", headers={"Content-Type": "text/plain"}),
        app.post(f"{API}/projects", json={"name": "x"}, headers=EVIL),
        app.get(f"{API}/health/", headers={"Host": "attacker.example"}),
        app.get("/openapi.json"),
        app.get("/docs/assets/swagger-ui.css"),
    ]
    assert [response.status_code for response in responses] == [200, 404, 415, 403, 400, 200, 200]
    for response in responses:
        assert {name: response.headers.get(name) for name in SECURITY} == SECURITY
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


class References(HTMLParser):
    """Every URL a page makes the browser fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in ("src", "href", "data-openapi-url", "spec-url"):
                self.urls.append(value)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_assets_served_by_assay(app: TestClient, page: str) -> None:
    response = app.get(page)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "unsafe-eval" not in policy
    parser = References()
    parser.feed(response.text)
    assert "<script>" not in response.text  # no inline script: the policy would block it
    assert "http:" not in response.text and "https:" not in response.text
    assert len(parser.urls) >= 3
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = app.get(url)
        assert asset.status_code == 200, url
    init = app.get("/docs/assets/swagger-init.js").text
    assert "http" not in init
