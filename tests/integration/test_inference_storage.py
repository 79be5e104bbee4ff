"""Inference on a real S3 endpoint (SeaweedFS): predictions, journal segments and their merge all
go through the same ``ObjectStore`` calls as on a local folder, and a failed run leaves nothing.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest

from assay.inference import InferenceConfig, InferenceError, run_inference
from assay.storage.s3 import S3ObjectStore
from tests.helpers import parquet_bytes
from tests.servers import SeaweedS3

DATASET = "datasets/d/data.parquet"


@pytest.fixture
def store(seaweed: SeaweedS3) -> S3ObjectStore:
    s3 = S3ObjectStore(
        seaweed.create_bucket(),
        endpoint_url=seaweed.endpoint_url,
        access_key_id=seaweed.access_key,
        secret_access_key=seaweed.secret_key,
    )
    writer = s3.open_writer(DATASET)
    writer.write(parquet_bytes([{"examples": f"row {i}", "ground_truth": f"t{i}"} for i in range(50)]))
    writer.commit()
    return s3


def config(**overrides: Any) -> InferenceConfig:
    values: dict[str, Any] = {
        "provider": "mock",
        "model": "echo",
        "dataset_key": DATASET,
        "predictions_key": "jobs/j/predictions.parquet",
        "checkpoint_prefix": "jobs/j/checkpoint/",
        "cache_prefix": "cache/",
        "checkpoint_every": 7,
    }
    return InferenceConfig.model_validate(values | overrides)


def test_predictions_and_cache_round_trip_through_s3(store: S3ObjectStore) -> None:
    first = run_inference(config(), store, handle_signals=False)
    assert first.generated == 50
    cache_objects = [info.key for info in store.list("cache/")]
    assert len(cache_objects) == 1 and "/runs/" in cache_objects[0]  # 8 segments merged into one

    second = run_inference(config(), store, handle_signals=False)
    assert (second.from_cache, second.provider_stats) == (50, {"requests": 0})
    with store.open_reader("jobs/j/predictions.parquet") as reader:
        table = pq.read_table(io.BytesIO(reader.read()))
    assert table.column("predictions").to_pylist() == [f"row {i}" for i in range(50)]


def test_a_failed_run_leaves_its_answers_but_no_predictions(store: S3ObjectStore) -> None:
    with pytest.raises(InferenceError, match="consecutive failed examples"):
        run_inference(config(fail_fast_after=5, options={"fail_when": "row 2", "concurrency": 1}), store)
    assert store.list("jobs/j/predictions") == []
    # "row 2" and "row 20".."row 29" fail; the run stops at the 5th in a row (row 24). The 19
    # answers before it (rows 0..19 but row 2) were kept: the next run asks only the 31 others.
    resumed = run_inference(config(), store, handle_signals=False)
    assert resumed.provider_stats == {"requests": 31}
