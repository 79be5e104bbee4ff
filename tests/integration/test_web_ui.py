"""The web UI in Debian's Chromium against a real server (auth required, real Ray head, mock
provider): an administrator signs in, creates a project, adds a viewer, uploads a dataset (a
bad one first), runs an experiment with two models and the default metrics, watches it finish
without reloading, compares, reads the side by side and exports the report; the viewer sees no
write button and is refused when forcing one. On every page: no request to another host, no
console error, no serious or critical axe-core violation; each page is saved as a screenshot
(1280 x 800) under ``test-artifacts/screenshots/`` for reviewers."""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, sync_playwright

from assay.compute.local_ray import LocalRayHead
from tests.backends import Backend, make_settings
from tests.browser import launch
from tests.integration.test_services import APP
from tests.serving import live_server

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ADMIN_PASSWORD = "admin password for the browser"
VIEWER_PASSWORD = "viewer password for the browser"
ROWS = 30
GOOD_CSV = "examples,ground_truth\n" + "".join(
    f'"The council met on day {i} and approved budget {i} for the parks.",budget {i} approved\n'
    for i in range(ROWS)
)
BAD_CSV = "text,ground_truth\nno examples column,here\n"
# What Chromium logs itself for a fetch the server refuses; the steps that provoke one count them.
REFUSAL_LOG = re.compile(r"Failed to load resource: the server responded with a status of (4\d\d)")
WAIT_MS = 240_000
# axe-core, injected by the test, may try to add a <style> of its own, which the pages' policy
# blocks and Chromium logs: the test's tool, not the page, so its own messages are not counted.
AXE = "/static/vendor/axe.min.js"
WRITE_CONTROLS = "button.danger, button[type=submit]:not(.secondary), input[type=file]"


@dataclass
class Watch:
    """Every request a browser context makes and every console error its pages log."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location
        if where.get("url", "").endswith(AXE):
            return
        refused = REFUSAL_LOG.search(message.text)
        text = f"{message.text} ({where.get('url')}:{where.get('lineNumber')})"
        (self.refusals if refused else self.errors).append(text)


@dataclass
class Site:
    base_url: str
    browser: Browser
    watches: list[Watch] = field(default_factory=list)

    def context(self) -> tuple[BrowserContext, Page]:
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": 1280, "height": 800}, accept_downloads=True
        )
        watch = Watch(self.base_url)
        self.watches.append(watch)
        context.on("request", watch.request)
        page = context.new_page()
        page.on("console", watch.console)
        page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        return context, page


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ray_head: LocalRayHead
) -> Iterator[Site]:
    ray_head.ensure_started()
    settings = make_settings(
        Backend("sqlite", "local"),
        tmp_path_factory.mktemp("web-ui"),
        request,
        auth="required",
        admin_password=ADMIN_PASSWORD,
        allowed_hosts=[],
    )
    with live_server(settings) as (_, base_url), sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield Site(base_url, browser)
        finally:
            browser.close()


def check_page(page: Page, name: str) -> None:
    """axe-core, served by Assay from its vendored copy, finds nothing serious; a screenshot."""
    page.add_script_tag(url=AXE)
    result: dict[str, Any] = page.evaluate("axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_the_lab_in_a_browser(site: Site) -> None:
    admin_context, page = site.context()
    page.goto("/")
    page.wait_for_url("**/login?next=*")
    check_page(page, "01-sign-in")
    sign_in(page, "admin", ADMIN_PASSWORD)
    # The viewer's account, then a project the administrator owns and the viewer joins.
    page.get_by_role("link", name="Users").click()
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password (optional)").fill(VIEWER_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    page.get_by_role("cell", name="vera", exact=True).wait_for()
    grant = page.get_by_role("button", name="Grant the permission to run code for vera")
    with page.expect_navigation():
        grant.click()
    assert page.request.get("/api/v1/users/vera").json()["can_run_code"] is True
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke the permission to run code for vera").click()
    check_page(page, "02-users")
    page.get_by_role("link", name="Assay", exact=True).click()

    check_page(page, "03-projects")
    page.get_by_label("Name", exact=True).fill("UI Lab")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/p/ui-lab/experiments")

    page.get_by_role("link", name="Members").click()
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Save member").click()
    page.get_by_role("cell", name="vera", exact=True).wait_for()
    members = page.get_by_role("table", name="Members and their roles")
    assert members.locator("tr", has_text="vera").locator("td").nth(1).inner_text() == "viewer"
    check_page(page, "04-members")

    # A bad dataset: the reason is shown at the file field; then a good one, with progress.
    page.get_by_role("link", name="Datasets").click()
    upload = page.get_by_label(re.compile("Upload a dataset"))
    upload.set_input_files({"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()})
    page.get_by_role("button", name="Upload", exact=True).click()
    error = page.locator("#e-dataset")
    error.filter(has_text="examples").wait_for()
    assert upload.get_attribute("aria-invalid") == "true"
    check_page(page, "05-datasets-error")
    upload.set_input_files({"name": "news.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()})
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/datasets/[0-9a-f-]{36}$"))
    dataset_url = page.url
    assert page.locator("table.rows tbody tr").count() == 25
    page.get_by_role("link", name="Next").click()
    assert page.locator("table.rows tbody tr").count() == ROWS - 25
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert Path(download.value.path()).read_text() == GOOD_CSV
    check_page(page, "06-dataset")

    page.get_by_role("link", name="Experiments").click()
    check_page(page, "07-experiments")
    page.get_by_label("Name", exact=True).fill("Budgets")
    page.get_by_label("Task").select_option("summarization")
    page.get_by_role("button", name="Create experiment").click()
    page.wait_for_url(re.compile(r"/experiments/[0-9a-f-]{36}$"))
    for name, reply in (("echo", "{prompt}"), ("fixed", "Budget approved.")):
        if page.locator("details.create[open]").count() == 0:
            page.get_by_text("Add a model").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Provider").select_option("mock")
        page.get_by_label("Model", exact=True).fill(reply)
        with page.expect_navigation():
            page.get_by_role("button", name="Run this model").click()
    # Live: the page polls its workflows; it must not reload to show them finished.
    page.evaluate("window.stillHere = true")
    page.locator("#live[data-finished=yes]").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.stillHere") is True
    assert page.locator("#live .status-succeeded").count() == 2, page.locator("#live").inner_text()
    comparison = page.locator("table.comparison")
    comparison.wait_for()
    for score in ("rouge1", "meteor", "bertscore_f1", "bleu"):
        row = comparison.locator("tr", has=page.locator("th", has_text=re.compile(f"^{score}")))
        assert row.locator("td.best").count() <= 1, score
    assert comparison.locator("td.best").count() >= 1
    # Drawn once htmx has settled the last swap.
    page.locator("#chart-tradeoff[data-drawn=yes]").wait_for(state="attached")
    assert page.evaluate("Boolean(Chart.getChart('chart-scores') && Chart.getChart('chart-tradeoff'))")
    experiment_url = page.url
    check_page(page, "08-experiment")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export HTML report").click()
    report = Path(download.value.path()).read_text()
    assert "Budgets" in report and "echo" in report and "fixed" in report

    page.get_by_role("link", name="Side by side").click()
    rows = page.locator("table.side tbody tr")
    assert rows.count() == 20
    chosen = page.get_by_label("Most disagreement first on").input_value()
    spreads = []
    for index in range(rows.count()):
        values = [float(text.split()[-1]) for text in rows.nth(index).locator(".score").all_inner_texts()]
        spreads.append(max(values) - min(values))
    # The page shows three decimals: a later spread may exceed an earlier one by rounding only.
    assert all(later <= earlier + 0.0011 for earlier, later in itertools.pairwise(spreads)), chosen
    check_page(page, "09-side-by-side")

    page.get_by_role("link", name="Jobs").click()
    assert page.locator("tbody tr").count() == 4
    page.get_by_label("Type").select_option("evaluator")
    page.wait_for_url("**kind=evaluator")
    assert page.locator("tbody tr").count() == 2
    check_page(page, "10-jobs")
    page.locator("tbody a").first.click()
    page.locator("pre.logs").wait_for()
    check_page(page, "11-job")
    # A script job, its output followed on its page while it runs.
    page.get_by_role("link", name="Jobs").click()
    page.get_by_label("Name", exact=True).fill("hello")
    script = "import time; print('hello from a script', flush=True); time.sleep(3); print('script done')"
    page.get_by_label("Command").fill(f"{sys.executable}\n-c\n{script}")
    with page.expect_navigation():
        page.get_by_role("button", name="Run script").click()
    page.locator("pre.logs", has_text="hello from a script").wait_for(timeout=120_000)
    page.locator("pre.logs", has_text="script done").wait_for(timeout=60_000)
    page.locator("#job-live .status-succeeded").wait_for(timeout=60_000)  # no reload: it follows
    check_page(page, "11-script-job")
    page.get_by_role("link", name="Files").click()
    for content in (b"v1", b"version two"):
        page.get_by_label(re.compile("Upload a file")).set_input_files(
            {"name": "prompt.txt", "mimeType": "text/plain", "buffer": content}
        )
        page.get_by_label("Folder", exact=True).select_option("models")
        with page.expect_navigation():
            page.get_by_role("button", name="Upload file").click()
    page.get_by_role("link", name="prompt.txt").click()
    assert page.locator("tbody tr").count() == 2
    check_page(page, "12-file-versions")
    with page.expect_navigation():
        page.get_by_role("button", name="Delete older versions").click()
    assert page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="Secrets").click()
    page.get_by_label("Name", exact=True).fill("gateway")
    page.get_by_label("Value").fill("sk-browser-secret-value")
    page.get_by_label("Description").fill("model gateway key")
    page.get_by_role("button", name="Save secret").click()
    page.get_by_role("cell", name="gateway", exact=True).wait_for()
    assert "sk-browser-secret-value" not in page.content()
    check_page(page, "13-secrets")
    # A service: started from its form, followed on its page until it runs, opened through the
    # gateway in a tab of its own, stopped and deleted.
    page.get_by_role("link", name="Services").click()
    page.get_by_label("Name", exact=True).fill("echo")
    page.get_by_label("Command").fill(f"{sys.executable}\n{APP}")
    page.get_by_label("Environment (optional)").fill("MODE=browser")
    check_page(page, "14-services")
    with page.expect_navigation():
        page.get_by_role("button", name="Start service").click()
    page.locator("#service-live .status-running").wait_for(timeout=120_000)  # no reload: it follows
    check_page(page, "14-service")
    with page.expect_popup() as opened:
        page.get_by_role("link", name="/api/v1/projects/ui-lab/services/echo/proxy/").click()
    opened.value.get_by_text("echo service").wait_for()
    opened.value.close()
    page.get_by_role("button", name="Stop echo").click()
    page.locator("#service-live .status-stopped").wait_for(timeout=60_000)
    with page.expect_navigation():
        page.get_by_role("button", name="Delete echo").click()
    page.get_by_role("link", name="admin", exact=True).click()
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("[data-token-value]")
    token.filter(has_text=re.compile(r"\S{20,}")).wait_for()
    assert (
        httpx.get(
            f"{site.base_url}/api/v1/users/me", headers={"Authorization": f"Bearer {token.inner_text()}"}
        ).json()["username"]
        == "admin"
    )
    check_page(page, "15-account")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    admin_context.close()

    # The viewer: no write buttons anywhere; a forced write is refused in words.
    viewer_context, page = site.context()
    sign_in(page, "vera", VIEWER_PASSWORD)
    lists = [
        dataset_url.rsplit("/", 1)[0],
        experiment_url.rsplit("/", 1)[0],
        "/p/ui-lab/secrets",
        "/p/ui-lab/services",
    ]
    for url in (dataset_url, experiment_url, *lists):
        page.goto(url)
        assert (
            page.locator("button.danger, button[type=submit]:not(.secondary), input[type=file]").count() == 0
        ), url
    page.goto(dataset_url)
    dataset_api = "/api/v1/projects/ui-lab/datasets/" + dataset_url.rsplit("/", 1)[1]
    page.evaluate(
        """api => {
            const button = document.createElement("button");
            Object.assign(button, {type: "button", textContent: "Forced delete"});
            Object.assign(button.dataset, {api, method: "DELETE", then: "reload"});
            document.querySelector("main").append(button);
        }""",
        dataset_api,
    )
    page.get_by_role("button", name="Forced delete").click()
    page.locator("#flash").filter(has_text="needs the editor role").wait_for()
    check_page(page, "16-viewer-refused")
    viewer_context.close()

    for watch in site.watches:
        assert watch.foreign == []
        assert watch.errors == []
    refused = sorted(
        re.findall(r"status of (\d+)", " ".join(w for watch in site.watches for w in watch.refusals))
    )
    assert refused == ["403", "422"]
