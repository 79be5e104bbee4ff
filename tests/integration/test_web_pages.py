"""The web UI's pages without a browser: embedded mode needs no sign-in, every page carries the
strict policy and no inline script, secrets show names only, errors are pages, and a missing
build of the browser files is said on the page instead of breaking it. The browser test
(test_web_ui.py) covers the story; these cover what it does not reach on every backend."""

from __future__ import annotations

import re
import sys

import pytest
from fastapi.testclient import TestClient

from assay.api.routes import ui
from assay.runtime import Runtime
from tests.integration.accounts import API, add_account, add_member

SECRET_VALUE = "sk-ui-page-must-not-show-0123"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_embedded_mode_serves_pages_without_sign_in(client: TestClient) -> None:
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"
    for path in ("/", "/account", "/p/default/experiments", "/p/default/datasets", "/p/default/services"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == ui.UI_POLICY
        assert INLINE_SCRIPT.findall(response.text) == [], path
        assert ' style="' not in response.text, path
    assert "Default" in client.get("/").text or "default" in client.get("/").text


def test_secrets_page_shows_names_never_values(client: TestClient) -> None:
    body = {"value": SECRET_VALUE, "description": "provider key", "allowed_hosts": ["gw.example.com"]}
    assert client.put(f"{API}/projects/default/secrets/openai", json=body).status_code == 201
    page = client.get("/p/default/secrets").text
    assert "openai" in page and "gw.example.com" in page and "provider key" in page
    assert SECRET_VALUE not in page


def test_errors_are_pages(client: TestClient) -> None:
    missing = client.get("/p/no-such-project/datasets")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "project &#39;no-such-project&#39; not found" in missing.text
    bad_id = client.get("/p/default/datasets/00000000-0000-0000-0000-000000000000")
    assert bad_id.status_code == 404 and "not found" in bad_id.text


def test_missing_browser_files_are_said_on_the_page(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "assets_installed", lambda: False)
    page = client.get("/p/default/experiments").text
    assert "scripts/build_web_assets.sh" in page
    assert "/static/vendor/" not in page
    assert "/static/app.js" in page


def test_files_pages_list_newest_versions_and_every_version(client: TestClient) -> None:
    for content in (b"first", b"second, longer"):
        upload = client.post(
            f"{API}/projects/default/files", files={"file": ("notes.txt", content)}, data={"folder": "models"}
        )
        assert upload.status_code == 201, upload.text
    listing = client.get("/p/default/files?folder=models").text
    assert "notes.txt" in listing and "<td>2</td>" in listing
    assert "No files." in client.get("/p/default/files?folder=datasets").text
    versions = client.get("/p/default/files/models/notes.txt").text
    assert "Download version 1" in versions and "Download version 2" in versions
    assert "Delete older versions" in versions
    old = client.get(f"{API}/projects/default/files/models/notes.txt/content?version=1")
    assert old.content == b"first"


def test_a_dataset_page_starts_an_experiment_with_it(client: TestClient) -> None:
    ids = [
        client.post(f"{API}/datasets/", files={"dataset": (f"d{i}.csv", b"examples\nhello\n")}).json()["id"]
        for i in range(2)
    ]
    page = client.get(f"/p/default/datasets/{ids[0]}").text
    assert f"/p/default/experiments?dataset={ids[0]}" in page
    form = client.get(f"/p/default/experiments?dataset={ids[0]}").text
    assert re.search(f'<option value="{ids[0]}" selected>', form)
    assert not re.search(f'<option value="{ids[1]}" selected>', form)


def test_users_page_is_for_administrators(client: TestClient) -> None:
    nora = add_account(client, "nora")
    assert "nora" in client.get("/users").text
    refused = client.get("/users", headers=nora.headers)
    assert refused.status_code == 403 and "only administrators may do this" in refused.text


def test_owners_see_project_settings_and_the_audit_log(client: TestClient) -> None:
    page = client.get("/p/default/members").text
    assert "Save settings" in page and "Delete project" in page and "Audit log" in page


def test_sign_in_returns_only_to_this_server(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "auth", "required")
    first = client.get("/p/default/jobs?kind=script", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fp%2Fdefault%2Fjobs%3Fkind%3Dscript"
    assert 'data-then="go:/p/default/jobs?kind=script"' in client.get(first.headers["location"]).text
    for elsewhere in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        page = client.get("/login", params={"next": elsewhere}).text
        assert 'data-then="go:/"' in page and "evil" not in page, elsewhere


def test_services_pages_show_each_role_what_it_may_do(client: TestClient) -> None:
    """Viewers read; editors stop, start, restart, scale and delete; creating one also needs the
    permission to run code. The service's page follows it (htmx) until it rests."""
    body = {"name": "web", "command": [sys.executable, "-c", "pass"], "env": {"MODE": "ui"}}
    assert client.post(f"{API}/projects/default/services", json=body).status_code == 201
    viewer, editor = add_account(client, "vic"), add_account(client, "eddie")
    add_member(client, "default", viewer, "viewer")
    add_member(client, "default", editor, "editor")

    pages = {
        who: client.get("/p/default/services", headers=h).text
        for who, h in (("admin", {}), ("editor", editor.headers), ("viewer", viewer.headers))
    }
    for page in pages.values():
        assert '<a href="/p/default/services/web">web</a>' in page
        assert re.search(r'class="status status-\w+ service-status"', page)
        assert INLINE_SCRIPT.findall(page) == [] and ' style="' not in page
    assert "Start service" in pages["admin"] and 'aria-label="Delete web"' in pages["admin"]
    assert 'aria-label="Restart web"' in pages["editor"] and "Start service" not in pages["editor"]
    assert "permission to run code" in pages["editor"]
    assert "Restart web" not in pages["viewer"] and "<form data-api" not in pages["viewer"]

    page = client.get("/p/default/services/web")
    assert page.status_code == 200 and page.headers["content-security-policy"] == ui.UI_POLICY
    assert "MODE=ui" in page.text and f"{sys.executable} -c pass" in page.text
    scale = 'data-api="/api/v1/projects/default/services/web/scale" data-method="PUT"'
    assert scale in page.text and 'name="replicas" type="number" value="1"' in page.text
    assert scale not in client.get("/p/default/services/web", headers=viewer.headers).text
    live = client.get("/p/default/services/web/live", headers=viewer.headers).text
    assert live.strip().startswith('<div id="service-live"') and "Delete web" not in live
    if 'class="status status-failed' not in live:  # it polls until it rests
        assert 'hx-get="/p/default/services/web/live"' in live
    missing = client.get("/p/default/services/nothing")
    assert missing.status_code == 404 and "service &#39;nothing&#39; not found" in missing.text
    client.delete(f"{API}/projects/default/services/web")
