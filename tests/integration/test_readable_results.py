"""Results a person can read, on a real Ray cluster: a workflow whose model endpoint is down
says so in words; a judge that answers garbage on every example (the scripted OpenAI-compatible
server) fails its workflow visibly, everywhere results are shown; equal scores are a tie, not a
"best"; and the HTML report, rendered by headless Chromium at 1,280 px, fits and has axes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

from assay.compute.local_ray import LocalRayHead
from tests.backends import Backend, make_settings
from tests.browser import CHROMIUM, launch
from tests.helpers import csv_bytes
from tests.openai_server import OpenAIServer, Rule
from tests.serving import served_app

pytestmark = pytest.mark.slow
API = "/api/v1/projects/default"
DEAD_ENDPOINT = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
ROWS = [
    {
        "examples": f"The committee met on day {i}.\nIt approved budget number {i}.",
        "ground_truth": f"Budget {i} approved.",
    }
    for i in range(6)
]


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ray_head: LocalRayHead
) -> Iterator[TestClient]:
    ray_head.ensure_started()
    settings = make_settings(Backend("sqlite", "local"), Path(tmp_path_factory.mktemp("readable")), request)
    with served_app(settings) as client:
        yield client


@pytest.fixture(scope="module")
def garbage_judge() -> Iterator[OpenAIServer]:
    server = OpenAIServer(latency_s=0.0).start()
    server.control(rules=[Rule(match="", reply="Honestly? Bananas. No verdict from me today.")])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def flaky_model() -> Iterator[OpenAIServer]:
    server = OpenAIServer(latency_s=0.0).start()
    server.control(rules=[Rule(match="day 1.", status=400)])
    yield server
    server.stop()


def experiment(app: TestClient) -> str:
    dataset = app.post("/api/v1/datasets/", files={"dataset": ("news.csv", csv_bytes(ROWS))}).json()["id"]
    body = {"name": "budgets", "dataset": dataset, "task_definition": {"task": "summarization"}}
    response = app.post("/api/v1/experiments/", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def workflow(app: TestClient, experiment_id: str, name: str, **fields: Any) -> str:
    body = {"name": name, "experiment_id": experiment_id, "metrics": ["rouge", "exact_match"], **fields}
    response = app.post("/api/v1/workflows/", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait(app: TestClient, workflow_id: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = app.get(f"{API}/workflows/{workflow_id}").json()
        if body["state"] in ("succeeded", "failed", "stopped"):
            return body
        assert time.monotonic() < deadline, f"workflow still {body['state']}"
        time.sleep(0.5)


def test_dead_model_endpoint_is_named_in_words(app: TestClient) -> None:
    experiment_id = experiment(app)
    workflow_id = workflow(
        app, experiment_id, "down", model="m", provider="openai-compatible", base_url=DEAD_ENDPOINT
    )
    body = wait(app, workflow_id)
    assert body["state"] == "failed" and body["failed_step"] == "inference"
    first_line = body["status_reason"].splitlines()[0]
    assert DEAD_ENDPOINT in first_line and "refused" in first_line, body["status_reason"]
    assert "Traceback" not in body["status_reason"]

    job = app.get(f"{API}/jobs/{body['inference_job_id']}").json()
    assert job["status"] == "failed"
    assert job["message"].startswith(f"model endpoint {DEAD_ENDPOINT} refused the connection")
    logs = app.get(f"/api/v1/jobs/{job['id']}/logs").json()["logs"]
    assert "Traceback" in logs, "the traceback stays in the logs"


def test_failing_judge_and_ties_are_visible_everywhere(
    app: TestClient, garbage_judge: OpenAIServer, tmp_path: Path
) -> None:
    experiment_id = experiment(app)
    judge = {"model_name": "judge", "model_base_url": garbage_judge.base_url}
    judged = workflow(
        app, experiment_id, "judged echo", model="{prompt}", provider="mock", llm_as_judge=judge
    )
    plain = workflow(app, experiment_id, "fixed reply", model="Budget approved.", provider="mock")

    judged_body, plain_body = wait(app, judged), wait(app, plain)
    assert plain_body["state"] == "succeeded" and plain_body["warnings"] == []
    assert judged_body["state"] == "failed" and judged_body["failed_step"] == "evaluation"
    assert judged_body["status_reason"] == (
        f"evaluation failed: the LLM judge failed on all {len(ROWS)} examples: "
        "the judge gave no readable score, twice"
    )
    evaluation = app.get(f"{API}/jobs/{judged_body['evaluation_job_id']}").json()
    assert evaluation["summary"]["failures"]["llm_judge"] == {
        "failed": len(ROWS),
        "examples": len(ROWS),
        "reason": "the judge gave no readable score, twice",
    }

    comparison = app.get(f"{API}/experiments/{experiment_id}/comparison").json()
    by_id = {w["workflow_id"]: w for w in comparison["workflows"]}
    assert by_id[judged]["failures"]["llm_judge"]["failed"] == len(ROWS)
    assert "rouge1" in by_id[judged]["metrics"], "the scores that worked are still compared"
    assert any("the LLM judge failed on all" in note for note in comparison["warnings"])
    assert (
        by_id[judged]["metrics"]["exact_match"]["mean"]
        == by_id[plain]["metrics"]["exact_match"]["mean"]
        == 0.0
    )
    assert "exact_match" not in comparison["best"]
    assert sorted(comparison["ties"]["exact_match"]) == sorted([judged, plain])
    assert comparison["best"]["rouge1"] in (judged, plain)

    report = app.get(f"{API}/experiments/{experiment_id}/export", params={"format": "html"}).text
    assert "failed on 6 of 6" in report and "the LLM judge failed on all 6 examples" in report
    assert report.count('class="tie"') == 2 * len(comparison["ties"])
    assert "<script" not in report and not re.search(r"(src|href)=[\"']?https?:", report)
    render_checks(report, tmp_path)


def render_checks(report: str, tmp_path: Path) -> None:
    """Chromium at 1,280 px: the summary table's container does not scroll sideways, every
    chart has an x and a y axis label, and example texts keep their newlines."""
    assert Path(CHROMIUM).exists(), "run scripts/install_chromium.sh"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_content(report)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            widths = page.evaluate(
                """() => { const box = document.querySelector('table.summary').parentElement;
                return {scroll: box.scrollWidth, client: box.clientWidth,
                        page: document.documentElement.scrollWidth}; }"""
            )
            assert widths["scroll"] <= widths["client"], widths
            assert widths["page"] <= 1280, widths
            charts = page.evaluate(
                """() => [...document.querySelectorAll('svg.chart')].map(svg => ({
                    label: svg.getAttribute('aria-label'),
                    x: [...svg.querySelectorAll('.axis-label.x')].map(t => t.textContent),
                    y: [...svg.querySelectorAll('.axis-label.y')].map(t => t.textContent),
                    ticks: svg.querySelectorAll('.tick').length}))"""
            )
            assert len(charts) >= 3, charts  # rouge and exact_match bars, the latency scatter
            for chart in charts:
                assert chart["x"] and chart["x"][0].strip(), chart
                assert chart["y"] and chart["y"][0].strip(), chart
                assert chart["ticks"] >= 2, chart
            white_space = page.evaluate(
                "() => getComputedStyle(document.querySelector('table.examples .text')).whiteSpace"
            )
            assert white_space == "pre-wrap"
        finally:
            browser.close()


def test_examples_without_a_prediction_are_reported(app: TestClient, flaky_model: OpenAIServer) -> None:
    experiment_id = experiment(app)
    workflow_id = workflow(
        app, experiment_id, "flaky", model="m", provider="openai-compatible", base_url=flaky_model.base_url
    )
    body = wait(app, workflow_id)
    note = (
        f"inference failed on 1 of {len(ROWS)} examples: HTTP 400: scripted status 400; "
        "those examples are scored as empty predictions"
    )
    assert body["state"] == "succeeded" and body["warnings"] == [note], body
    comparison = app.get(f"{API}/experiments/{experiment_id}/comparison").json()
    assert comparison["warnings"] == [f"flaky: {note}"]
    assert "predictions" not in comparison["workflows"][0]["metrics"]
    report = app.get(f"{API}/experiments/{experiment_id}/export", params={"format": "html"}).text
    assert "scored as empty predictions" in report
