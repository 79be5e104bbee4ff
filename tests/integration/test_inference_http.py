"""The OpenAI-compatible provider and the runner against a real HTTP server on loopback.

The server (``tests.openai_server``, its own process) scripts 429s with retry-after,
5xx, slow answers and refused credentials, and counts every request it receives: retries,
"no request sent twice" and "the key is never shown" are checked where requests arrive.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from assay.inference import InferenceConfig, InferenceError, InferenceSummary, run_inference
from assay.inference.prompts import Prompt
from assay.inference.providers.base import Generation, ProviderError
from assay.inference.providers.openai import OpenAICompatibleProvider
from assay.storage.local import LocalObjectStore
from tests.helpers import parquet_bytes
from tests.openai_server import OpenAIServer, Rule
from tests.servers import free_port

API_KEY = "sk-test-4b1d-secret"
DATASET = "datasets/d/data.parquet"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    handle = OpenAIServer(latency_s=0.0).start()
    yield handle
    handle.stop()


@pytest.fixture
def endpoint(server: OpenAIServer) -> OpenAIServer:
    """The shared server with its counters reset, no rules and no latency."""
    server.control(reset=True, latency_s=0.0, rules=[])
    return server


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


def config(base_url: str, **overrides: Any) -> InferenceConfig:
    values: dict[str, Any] = {
        "provider": "openai-compatible",
        "model": "test-model",
        "base_url": base_url,
        "dataset_key": DATASET,
        "predictions_key": "jobs/j/predictions.parquet",
        "checkpoint_prefix": "jobs/j/checkpoint/",
        "options": {"concurrency": 8, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_retries": 3},
    }
    for name, value in overrides.items():
        values[name] = values[name] | value if isinstance(value, dict) and name in values else value
    return InferenceConfig.model_validate(values)


def generate(cfg: InferenceConfig, prompts: list[str]) -> tuple[list[Generation], OpenAICompatibleProvider]:
    async def scenario() -> tuple[list[Generation], OpenAICompatibleProvider]:
        async with OpenAICompatibleProvider(cfg, API_KEY) as provider:
            assert isinstance(provider, OpenAICompatibleProvider)
            batches = await asyncio.gather(
                *(provider.generate([Prompt("Be brief.", text)]) for text in prompts)
            )
            return [batch[0] for batch in batches], provider

    return asyncio.run(scenario())


def put_dataset(store: LocalObjectStore, count: int) -> None:
    writer = store.open_writer(DATASET)
    writer.write(parquet_bytes([{"examples": f"prompt {i}", "ground_truth": f"t{i}"} for i in range(count)]))
    writer.commit()


# --- retries, backoff, AIMD --------------------------------------------------------------------


def test_server_errors_are_retried_until_an_answer(endpoint: OpenAIServer) -> None:
    endpoint.control(rules=[Rule(match="flaky", status=500, times=2), Rule(match="down", status=503)])
    (ok, down), provider = generate(config(endpoint.base_url), ["flaky one", "down one"])
    assert ok.error is None and ok.text == "echo: flaky one"
    assert (ok.prompt_tokens, ok.completion_tokens) == (4, 3)  # from the server's usage
    assert down.error == "gave up after 4 attempts; last: HTTP 503: scripted status 503"
    stats = endpoint.stats()
    assert stats["statuses"] == {"500": 2, "200": 1, "503": 4}
    assert provider.stats()["retries"] == 5


def test_rate_limiting_honours_retry_after_and_halves_the_concurrency(endpoint: OpenAIServer) -> None:
    endpoint.control(rules=[Rule(status=429, times=1, retry_after="0.3")])
    results, provider = generate(
        config(endpoint.base_url, options={"concurrency": 16}), [f"p{i}" for i in range(16)]
    )
    assert all(result.error is None for result in results)
    stats = endpoint.stats()
    assert stats["statuses"] == {"429": 16, "200": 16}
    assert stats["min_retry_gap_s"] >= 0.3  # nobody came back before the server said so
    assert provider.limiter.limit < 16  # halved once, then grown back only by one per window


def test_a_request_that_times_out_is_retried(endpoint: OpenAIServer) -> None:
    endpoint.control(rules=[Rule(match="slow", delay_s=2.0, times=1)])
    [result], provider = generate(config(endpoint.base_url, options={"timeout_s": 0.3}), ["slow one"])
    assert result.error is None and result.text == "echo: slow one"
    assert endpoint.stats()["requests"] == 2
    assert provider.stats()["timeouts"] == 1


def test_client_errors_fail_the_example_without_retrying(endpoint: OpenAIServer) -> None:
    endpoint.control(rules=[Rule(match="bad", status=400)])
    [result], _ = generate(config(endpoint.base_url), ["bad request"])
    assert result.error == "HTTP 400: scripted status 400"
    assert endpoint.stats()["requests"] == 1


def test_refused_connections_are_retried_then_reported() -> None:
    unused = f"http://127.0.0.1:{free_port()}/v1"
    [result], provider = generate(config(unused), ["anyone there?"])
    assert result.error is not None
    assert result.error.startswith(
        "gave up after 4 attempts; last: connection failed: cannot connect to 127.0.0.1"
    )
    assert provider.stats()["connection_errors"] == 4


def test_bad_credentials_stop_everything_and_the_key_never_shows(endpoint: OpenAIServer) -> None:
    endpoint.control(rules=[Rule(status=401)])
    with pytest.raises(ProviderError) as refused:
        generate(config(endpoint.base_url), ["hello"])
    assert "HTTP 401" in str(refused.value) and "***" in str(refused.value)
    assert API_KEY not in str(refused.value)
    assert endpoint.stats()["requests"] == 1  # not retried


# --- whole runs --------------------------------------------------------------------------------


def test_a_run_sends_the_key_but_never_writes_it_and_a_rerun_hits_the_cache(
    endpoint: OpenAIServer, store: LocalObjectStore
) -> None:
    put_dataset(store, 40)
    endpoint.control(rules=[Rule(match="prompt 7", reply="<think>hmm</think> seven")])
    cfg = config(endpoint.base_url, cache_prefix="cache/", summary_key="jobs/j/summary.json")
    first = run_inference(cfg, store, api_key=API_KEY + "\n", handle_signals=False)  # as pasted
    assert (first.generated, first.failed) == (40, 0)
    assert endpoint.stats()["authorization"] == {f"Bearer {API_KEY}": 40}
    table = pq.read_table(store.path_of(cfg.predictions_key))
    assert table.slice(7, 1).to_pylist()[0]["predictions"] == "seven"
    assert table.slice(7, 1).to_pylist()[0]["reasoning"] == "hmm"
    for path in store.root.rglob("*"):
        assert not path.is_file() or API_KEY.encode() not in path.read_bytes()

    endpoint.control(reset=True)
    second = run_inference(cfg, store, api_key=API_KEY, handle_signals=False)
    assert endpoint.stats()["requests"] == 0
    assert second.from_cache == 40
    assert pq.read_table(store.path_of(cfg.predictions_key)).equals(table)


def test_the_completions_endpoint_gets_system_and_user_text(
    endpoint: OpenAIServer, store: LocalObjectStore
) -> None:
    put_dataset(store, 2)
    cfg = config(
        endpoint.base_url,
        options={"endpoint": "completions"},
        system_prompt="SYS",
        task={"task": "text-generation"},
    )
    run_inference(cfg, store, handle_signals=False)
    table = pq.read_table(store.path_of(cfg.predictions_key))
    assert table.column("predictions").to_pylist() == ["echo: SYS\n\nprompt 0", "echo: SYS\n\nprompt 1"]


def test_a_failing_endpoint_fails_the_run_without_predictions(
    endpoint: OpenAIServer, store: LocalObjectStore
) -> None:
    put_dataset(store, 30)
    endpoint.control(rules=[Rule(status=401)])
    with pytest.raises(InferenceError) as failure:
        run_inference(config(endpoint.base_url), store, api_key=API_KEY, handle_signals=False)
    assert "HTTP 401" in failure.value.message and API_KEY not in failure.value.message
    assert not store.list("jobs/j/predictions")


# --- stop and resume ---------------------------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
from assay.inference import InferenceConfig, InferenceStopped, run_inference
from assay.storage.local import LocalObjectStore

config = InferenceConfig.model_validate_json(Path(sys.argv[1]).read_text())
try:
    run_inference(config, LocalObjectStore(Path(sys.argv[2])))
except InferenceStopped as stopped:
    print(stopped.message)
    sys.exit(3)
"""


def run_and_kill(
    endpoint: OpenAIServer, store: LocalObjectStore, cfg: InferenceConfig, tmp_path: Path, signum: int
) -> int:
    """Run ``cfg`` in a child process and send it ``signum`` once the server has had 30 requests."""
    config_file = tmp_path / "config.json"
    config_file.write_text(cfg.model_dump_json())
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(config_file), str(store.root)], env=env)
    try:
        deadline = time.monotonic() + 60
        while endpoint.stats()["requests"] < 30:
            assert child.poll() is None, "the run ended before it could be stopped"
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        child.send_signal(signum)
        return child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()


def resume(endpoint: OpenAIServer, store: LocalObjectStore, cfg: InferenceConfig) -> InferenceSummary:
    summary = run_inference(cfg, store, handle_signals=False)
    assert summary.succeeded == 120
    assert pq.read_table(store.path_of(cfg.predictions_key)).column("predictions").to_pylist() == [
        f"echo: prompt {i}" for i in range(120)
    ]
    return summary


def test_a_stopped_run_resumes_without_sending_any_request_twice(
    endpoint: OpenAIServer, store: LocalObjectStore, tmp_path: Path
) -> None:
    put_dataset(store, 120)
    endpoint.control(latency_s=0.05)
    cfg = config(
        endpoint.base_url, options={"concurrency": 4}, checkpoint_every=1000, checkpoint_interval_s=3600
    )
    assert run_and_kill(endpoint, store, cfg, tmp_path, signal.SIGTERM) == 3
    assert not store.list("jobs/j/predictions")
    sent_before = endpoint.stats()["requests"]
    assert sent_before < 120

    summary = resume(endpoint, store, cfg)
    stats = endpoint.stats()
    assert stats["requests"] == 120 and stats["max_requests_per_prompt"] == 1
    assert summary.from_cache == sent_before
    assert [info.key for info in store.list("jobs/j/")] == [cfg.predictions_key]  # checkpoint removed


def test_a_killed_run_repeats_at_most_about_one_checkpoint(
    endpoint: OpenAIServer, store: LocalObjectStore, tmp_path: Path
) -> None:
    put_dataset(store, 120)
    endpoint.control(latency_s=0.05)
    cfg = config(endpoint.base_url, options={"concurrency": 4}, checkpoint_every=5)
    assert run_and_kill(endpoint, store, cfg, tmp_path, signal.SIGKILL) == -signal.SIGKILL
    summary = resume(endpoint, store, cfg)
    repeated = endpoint.stats()["requests"] - 120
    lost_at_most = 2 * cfg.checkpoint_every + cfg.options.concurrency  # type: ignore[attr-defined]
    assert summary.from_cache >= 30 - lost_at_most
    assert repeated <= lost_at_most
    assert endpoint.stats()["max_requests_per_prompt"] <= 2
