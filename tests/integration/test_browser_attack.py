"""Real Chromium against a default ``assay serve`` (loopback, no credentials: every request
acts as the local admin). A page of another site tries what a browser lets any page do
without asking the server first, a DNS-rebinding page tries it as a same-origin page, and
nothing is created. The docs pages load only what Assay serves itself."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

from tests.browser import launch
from tests.servers import assay_serve, free_port

pytestmark = pytest.mark.slow
ATTACKER = "attacker.example"
CHROMIUM_ARGS = [
    # The attacker's name resolves to this machine, as after DNS rebinding.
    f"--host-resolver-rules=MAP {ATTACKER} 127.0.0.1",
    # Chromium's own checks on requests from public pages to loopback, off: other browsers
    # have none, and the server must hold without them.
    "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
    "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks",
]
SCRIPT_JOB = {"name": "pwned", "job_config": {"job_type": "script", "argv": ["sh", "-c", "id > /tmp/pwned"]}}
# A form with enctype text/plain sends ``name=value``: the ``=`` lands inside a JSON string.
FORM_JOB_NAME = json.dumps({**SCRIPT_JOB, "name": "pwned by form"})[:-1] + ', "description": "'
FORM_JOB_VALUE = '"}'

CROSS_SITE_PAGE = """<!doctype html><html><body>
<iframe name="sink0"></iframe><iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form method="POST" action="{target}/api/v1/jobs/script" enctype="text/plain" target="sink0">
  <input name='{form_job_name}' value='{form_job_value}'></form>
<form method="POST" action="{target}/api/v1/projects" target="sink1">
  <input name="name" value="pwned by urlencoded form"></form>
<form method="POST" action="{target}/api/v1/datasets/" enctype="multipart/form-data" target="sink2">
  <input type="file" name="dataset"><input name="format" value="job"></form>
<script>
const target = "{target}";
const job = {job};
const send = (path, init) => fetch(target + path, {{method: "POST", mode: "no-cors", ...init}});
const plain = body => ({{headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify(body)}});
send("/api/v1/jobs/script", plain(job));
send("/api/v1/projects/default/jobs/script", plain(job));
send("/api/v1/jobs/script", {{body: new Blob([JSON.stringify(job)])}});
send("/api/v1/projects", plain({{name: "pwned"}}));
const upload = new FormData();
upload.append("dataset", new Blob(["examples,ground_truth\\nq,a\\n"]), "pwned.csv");
send("/api/v1/datasets/", {{body: upload}});
const csv = new DataTransfer();
csv.items.add(new File(["examples,ground_truth\\nq,a\\n"], "pwned.csv"));
document.querySelector("input[type=file]").files = csv.files;
for (const form of document.forms) form.submit();
</script></body></html>"""
CROSS_SITE_ATTEMPTS = 8  # five fetches, three forms

REBOUND_PAGE = """<!doctype html><html><body><script>
window.attempt = fetch("/api/v1/jobs/script", {{
  method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({job}),
}}).then(response => response.status);
</script></body></html>"""


@dataclass(frozen=True)
class Target:
    base_url: str

    @property
    def port(self) -> int:
        port = urlsplit(self.base_url).port
        assert port is not None
        return port

    def created(self) -> dict[str, object]:
        """What exists, through the API, as the local admin (a client that is no browser)."""
        with httpx.Client(base_url=f"{self.base_url}/api/v1") as api:
            return {
                "jobs": api.get("/jobs/").json()["total"],
                "projects": sorted(project["id"] for project in api.get("/projects").json()),
                "datasets": api.get("/datasets/").json()["total"],
            }


NOTHING = {"jobs": 0, "projects": ["default"], "datasets": 0}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with assay_serve(Path(tmp_path_factory.mktemp("browser-attack"))) as base_url:
        yield Target(base_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright, CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


@contextlib.contextmanager
def site(html: str) -> Iterator[str]:
    """Another site: any path answers ``html``; yields its URL under the attacker's name."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{ATTACKER}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def responses_from(page: Page, base_url: str) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda response: seen.append(response) if response.url.startswith(base_url) else None)
    return seen


def wait_for(page: Page, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the browser did not finish in time"
        page.wait_for_timeout(100)


def test_a_page_of_another_site_creates_nothing(page: Page, target: Target) -> None:
    html = CROSS_SITE_PAGE.format(
        target=target.base_url,
        job=json.dumps(SCRIPT_JOB),
        form_job_name=FORM_JOB_NAME,
        form_job_value=FORM_JOB_VALUE,
    )
    seen = responses_from(page, target.base_url)
    with site(html) as url:
        page.goto(url)
        wait_for(page, lambda: len(seen) >= CROSS_SITE_ATTEMPTS)
    # Each attempt reached the server and was refused there: the browser sent its Origin.
    assert sorted(response.status for response in seen) == [403] * CROSS_SITE_ATTEMPTS
    assert target.created() == NOTHING


def test_a_dns_rebinding_page_is_refused(page: Page, target: Target) -> None:
    rebound = f"http://{ATTACKER}:{target.port}/"
    html = REBOUND_PAGE.format(job=json.dumps(SCRIPT_JOB))
    # The page comes from the attacker; its requests, same-origin to it, reach Assay.
    page.route(rebound, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(rebound)
    assert page.evaluate("window.attempt") == 400
    assert httpx.get(f"{target.base_url}/api/v1/jobs/", headers={"Host": ATTACKER}).status_code == 400
    assert target.created() == NOTHING


def test_the_servers_own_pages_still_act(page: Page, target: Target) -> None:
    page.goto(f"{target.base_url}/docs")
    status = page.evaluate(
        """fetch("/api/v1/projects", {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({name: "from the docs"})}).then(response => response.status)"""
    )
    assert status == 201
    assert httpx.delete(f"{target.base_url}/api/v1/projects/from-the-docs").status_code == 204


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_what_assay_serves(page: Page, target: Target, path: str) -> None:
    requested: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{target.base_url}{path}", wait_until="networkidle")
    if path == "/docs":
        title = page.locator(".swagger-ui .info .title")
        title.wait_for()
        assert title.inner_text().startswith("Assay")
    # blob: URLs are made by the page's own scripts (ReDoc's search worker), in its origin.
    own = [url.removeprefix("blob:").startswith(f"{target.base_url}/") for url in requested]
    assert len(own) >= 3 and all(own), requested
    assert not [text for text in console if "Content Security Policy" in text], console
