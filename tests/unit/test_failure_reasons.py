"""Failure reasons in words: the inference client's own errors, raised against real sockets and
the scripted OpenAI-compatible server, become one sentence naming the endpoint and the cause;
the engine's traceback is reduced to its last line; ties are not "best"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.inference.config import InferenceConfig
from assay.inference.prompts import Prompt
from assay.inference.providers.openai import OpenAICompatibleProvider
from assay.inference.runner import run_inference
from assay.jobs.failure import describe, describe_engine_message, read_reason, recorded, write_failure
from assay.services.comparison import WorkflowScores, rank_per_metric
from assay.storage.local import LocalObjectStore
from tests.openai_server import OpenAIServer, Rule

DEAD = "http://127.0.0.1:9/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    running = OpenAIServer(latency_s=0.0).start()
    yield running
    running.stop()


def _config(base_url: str) -> InferenceConfig:
    return InferenceConfig.model_validate(
        {
            "provider": "openai-compatible",
            "model": "m",
            "base_url": base_url,
            "dataset_key": "in.parquet",
            "predictions_key": "out.parquet",
            "checkpoint_prefix": "checkpoint/",
            "task": {"task": "text-generation"},
            "options": {"max_retries": 0, "concurrency": 1},
        }
    )


def _failure_of(base_url: str) -> str:
    """The error the real client reports for one request to ``base_url``."""

    async def once() -> str:
        provider = OpenAICompatibleProvider(_config(base_url))
        await provider.start()
        try:
            (generation,) = await provider.generate([Prompt(system=None, user="hello")])
        except Exception as exc:
            return str(exc)
        finally:
            await provider.close()
        assert generation.error is not None
        return generation.error

    return asyncio.run(once())


def test_refused_connection_names_the_endpoint() -> None:
    error = _failure_of(DEAD)
    reason = describe(
        RuntimeError(f"stopped after 20 consecutive failed examples; last error: {error}"), DEAD
    )
    assert reason.startswith(f"model endpoint {DEAD} refused the connection")
    assert reason.endswith("(stopped after 20 consecutive failed examples)")
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "rejected the API key"),
        (404, "404 Not Found"),
        (500, "HTTP 500"),
        (400, "HTTP 400: scripted status 400"),
    ],
)
def test_http_statuses_in_words(server: OpenAIServer, status: int, words: str) -> None:
    server.control(rules=[Rule(match="", status=status, reply="nope")])
    try:
        error = _failure_of(server.base_url)
    finally:
        server.control(rules=[])
    reason = describe(RuntimeError(error), server.base_url, "judge endpoint")
    assert reason.startswith(f"judge endpoint {server.base_url} ") and words in reason, reason


def test_a_failed_run_records_its_reason_and_the_reconciler_reads_it(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = LocalObjectStore(tmp_path / "objects")
    writer = store.open_writer("in.parquet")
    pq.write_table(pa.table({"examples": ["a", "b"]}), writer)
    writer.commit()
    config = {"provider": "openai-compatible", "base_url": DEAD}
    with pytest.raises(Exception), recorded(store, "inference", config, "results/"):  # noqa: B017
        run_inference(_config(DEAD).model_copy(update={"fail_fast_after": 1}), store)
    reason = read_reason(store, "results/", "Traceback (most recent call last):\n  ...\nInferenceError: x")
    assert reason.startswith(f"model endpoint {DEAD} refused the connection"), reason


def test_engine_messages_without_a_recorded_reason() -> None:
    store_less = describe_engine_message(
        "Job entrypoint command failed with exit code 1, last available logs:\n"
        'Traceback (most recent call last):\n  File "x.py", line 1\nMemoryError: out of memory'
    )
    assert store_less == "the job's command exited with code 1: MemoryError: out of memory (see its logs)"
    quiet = (
        "Job entrypoint command failed with exit code 3, last available logs (truncated):\nabout to fail\n"
    )
    assert describe_engine_message(quiet) == "the job's command exited with code 3 (see its logs)"
    assert describe_engine_message("Traceback (most recent call last):\nValueError: x") == (
        "the job failed: ValueError: x"
    )
    assert describe_engine_message(None) == "the job failed without saying why; see its logs"


def test_recorded_reason_wins_over_the_engine_message(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    write_failure(store, "r/", "the dataset has no 'ground_truth' column, which this job needs")
    assert read_reason(store, "r/", "Traceback ...").startswith("the dataset has no 'ground_truth'")
    assert describe(KeyError('Field "ground_truth" does not exist in schema')) == (
        "the dataset has no 'ground_truth' column, which this job needs"
    )
    assert describe(ModuleNotFoundError("No module named 'torch'")).startswith("a package the job needs")


def _scores(workflow_id: str, **means: float) -> WorkflowScores:
    metrics = {name: {"mean": mean, "ci_low": mean, "ci_high": mean} for name, mean in means.items()}
    return WorkflowScores(workflow_id, workflow_id, "m", "mock", "succeeded", metrics=metrics)


def test_best_only_when_strictly_better() -> None:
    best, ties = rank_per_metric(
        [
            _scores("a", exact_match=0.0, rouge1=0.5, ter=0.4),
            _scores("b", exact_match=0.0, rouge1=0.2, ter=0.3),
        ]
    )
    assert "exact_match" not in best and ties["exact_match"] == ["a", "b"]
    assert best["rouge1"] == "a" and best["ter"] == "b"
    alone, no_ties = rank_per_metric([_scores("a", rouge1=0.5)])
    assert alone == {} and no_ties == {}, "one workflow is not best of anything"
