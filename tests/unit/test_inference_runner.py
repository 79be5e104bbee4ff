"""``run_inference`` end to end with the mock provider on a local object store.

The mock provider counts the prompts it receives, so "no request twice" is checked where the
requests arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.errors import InvalidInputError, NotFoundError, UnsupportedError
from assay.inference import (
    InferenceConfig,
    InferenceError,
    InferenceSummary,
    Progress,
    predictions_schema,
    run_inference,
)
from assay.inference.providers.mock import MockProvider
from assay.storage.local import LocalObjectStore
from tests.helpers import parquet_bytes

DATASET = "datasets/d1/data.parquet"
PREDICTIONS = "jobs/j1/predictions.parquet"


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


def put_dataset(store: LocalObjectStore, rows: list[dict[str, Any]], key: str = DATASET) -> None:
    writer = store.open_writer(key)
    writer.write(parquet_bytes(rows))
    writer.commit()


def config(**overrides: Any) -> InferenceConfig:
    values: dict[str, Any] = {
        "provider": "mock",
        "model": "echo",
        "dataset_key": DATASET,
        "predictions_key": PREDICTIONS,
        "checkpoint_prefix": "jobs/j1/checkpoint/",
        "options": {"reply": "<think>about {prompt}</think>answer to {prompt}"},
        "checkpoint_every": 3,
    }
    return InferenceConfig.model_validate(values | overrides)


def run(
    store: LocalObjectStore, cfg: InferenceConfig, progress: list[Progress] | None = None
) -> InferenceSummary:
    return run_inference(cfg, store, progress.append if progress is not None else None, handle_signals=False)


def predictions(store: LocalObjectStore, key: str = PREDICTIONS) -> pa.Table:
    return pq.read_table(store.path_of(key))


ROWS = [{"examples": f"text {i}", "ground_truth": f"truth {i}", "extra": i} for i in range(10)]


def test_predictions_have_the_documented_schema_and_rows(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS)
    seen: list[Progress] = []
    summary = run(store, config(summary_key="jobs/j1/summary.json"), seen)

    table = predictions(store)
    assert table.schema == predictions_schema(with_ground_truth=True)
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "examples": "text 0",
        "ground_truth": "truth 0",
        "predictions": "answer to text 0",
        "reasoning": "about text 0",
        "latency_ms": 0.0,
        "prompt_tokens": first["prompt_tokens"],
        "completion_tokens": 6,  # counted on the raw reply, thoughts included
        "cost": None,
        "error": None,
    }
    assert first["prompt_tokens"] > 2  # the default system prompt counts too
    assert table.column("examples").to_pylist() == [row["examples"] for row in ROWS]  # dataset order
    assert (summary.examples, summary.succeeded, summary.failed, summary.generated) == (10, 10, 0, 10)
    assert summary.completion_tokens == 60 and summary.cost is None
    assert seen[-1] == Progress(done=10, total=10, failed=0, from_cache=0)
    assert InferenceSummary.model_validate_json(store.path_of("jobs/j1/summary.json").read_text()) == summary


def test_a_dataset_without_ground_truth_gets_none_and_annotation_writes_it(store: LocalObjectStore) -> None:
    put_dataset(store, [{"examples": f"text {i}"} for i in range(3)])
    run(store, config())
    assert predictions(store).schema == predictions_schema(with_ground_truth=False)

    summary = run(store, config(annotate=True, predictions_key="jobs/j2/annotations.parquet"))
    table = predictions(store, "jobs/j2/annotations.parquet")
    assert table.column("ground_truth").to_pylist() == table.column("predictions").to_pylist()
    assert table.column("ground_truth").to_pylist()[0] == "answer to text 0"
    assert summary.annotate


def test_max_samples_takes_the_first_examples(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS)
    summary = run(store, config(max_samples=4))
    assert summary.examples == 4
    assert predictions(store).column("examples").to_pylist() == ["text 0", "text 1", "text 2", "text 3"]


def test_a_rerun_is_answered_from_the_cache_and_errors_are_not_cached(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS)
    flaky = config(cache_prefix="cache/", options={"reply": "ok {prompt}", "fail_when": "text 3"})
    first = run(store, flaky)
    assert (first.generated, first.failed, first.provider_stats) == (9, 1, {"requests": 10})
    failed_row = predictions(store).slice(3, 1).to_pylist()[0]
    assert failed_row["predictions"] is None and "mock failure" in failed_row["error"]

    healed = config(cache_prefix="cache/", options={"reply": "ok {prompt}"})
    second = run(store, healed)
    assert second.provider_stats == {"requests": 1}  # only the example that failed
    assert (second.from_cache, second.generated, second.failed) == (9, 1, 0)
    assert predictions(store).column("predictions").to_pylist() == [f"ok text {i}" for i in range(10)]
    assert [info.key.split("/")[-2] for info in store.list("cache/")] == ["runs", "runs"]  # merged per run

    other_model = run(store, config(cache_prefix="cache/", model="another", options={"reply": "ok {prompt}"}))
    assert other_model.provider_stats == {"requests": 10}


def test_cached_rows_reproduce_latency_tokens_and_cost(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS[:3])
    priced = config(
        cache_prefix="cache/",
        price={"input_per_million": 1_000_000, "output_per_million": 2_000_000},
        options={"reply": "a b", "latency_s": 0.01},
    )
    first = run(store, priced)
    before = predictions(store)
    second = run(store, priced)
    assert second.from_cache == 3 and second.provider_stats == {"requests": 0}
    assert predictions(store).equals(before)
    assert before.column("cost").to_pylist()[0] == pytest.approx(
        before.column("prompt_tokens").to_pylist()[0] * 1.0 + 2 * 2.0
    )
    assert first.cost == second.cost == pytest.approx(sum(before.column("cost").to_pylist()))


def test_identical_prompts_are_sent_once(store: LocalObjectStore) -> None:
    put_dataset(store, [{"examples": f"same {i % 3}"} for i in range(600)])  # repeats far apart too
    summary = run(store, config())
    assert summary.provider_stats == {"requests": 3}
    assert (summary.generated, summary.from_cache) == (3, 597)
    assert predictions(store).column("predictions").to_pylist()[:4] == [
        "answer to same 0",
        "answer to same 1",
        "answer to same 2",
        "answer to same 0",
    ]


def test_a_run_with_too_many_failures_fails_but_keeps_its_results(store: LocalObjectStore) -> None:
    put_dataset(store, [{"examples": f"{'bad' if i < 6 else 'good'} {i}"} for i in range(10)])
    failing = config(max_error_rate=0.5, fail_fast_after=0, options={"fail_when": "bad", "reply": "x"})
    with pytest.raises(InferenceError, match="6 of 10 examples failed"):
        run(store, failing)
    assert predictions(store).column("error").null_count == 4
    assert store.list("jobs/j1/checkpoint/")  # kept: a resubmitted run asks only the failures again

    resubmitted = config(max_error_rate=0.5, fail_fast_after=0, options={"reply": "x"})
    summary = run(store, resubmitted)
    assert summary.provider_stats == {"requests": 6} and summary.failed == 0


def test_consecutive_failures_stop_the_run_early_and_write_no_predictions(store: LocalObjectStore) -> None:
    put_dataset(store, [{"examples": f"broken {i}"} for i in range(200)])
    failing = config(fail_fast_after=5, options={"fail_when": "broken", "concurrency": 1})
    with pytest.raises(InferenceError, match="5 consecutive failed examples; last error: mock failure"):
        run(store, failing)
    assert store.list("jobs/j1/") == []


def test_the_checkpoint_is_removed_after_a_successful_run(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS)
    run(store, config())
    assert [info.key for info in store.list("jobs/j1/")] == [PREDICTIONS]


def test_bad_inputs_are_reported_with_the_field_at_fault(store: LocalObjectStore) -> None:
    with pytest.raises(NotFoundError) as missing:
        run(store, config())
    assert missing.value.field == "dataset_key"

    put_dataset(store, [{"text": "no examples column"}])
    with pytest.raises(InvalidInputError, match="no 'examples' column"):
        run(store, config())

    put_dataset(store, ROWS)
    with pytest.raises(InvalidInputError, match="no column 'question'"):
        run(store, config(prompt_template="{question}"))


class NeedsExtra(MockProvider):
    requires = ("assay_missing_dependency",)
    install_hint = "pip it"


def test_a_provider_with_missing_dependencies_fails_with_an_install_hint(store: LocalObjectStore) -> None:
    put_dataset(store, ROWS)
    # A resolved config names its provider's class, as a worker that never saw the registration gets it.
    needs_extra = config(provider="needs-extra", provider_target=f"{__name__}:NeedsExtra")
    with pytest.raises(UnsupportedError, match=r"provider 'needs-extra' cannot run here.*pip it"):
        run(store, needs_extra)
