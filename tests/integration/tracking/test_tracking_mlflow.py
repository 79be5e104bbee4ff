"""The MLflow tracker against a real MLflow server: what it writes, and that replays find it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from assay.tracking import KEY_TAG, RunStatus, TrackingRejectedError, TrackingUnavailableError
from assay.tracking.mlflow import MlflowTracker
from tests.servers import free_port

pytestmark = pytest.mark.slow


def test_runs_params_metrics_and_artifacts_appear_in_mlflow(
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    keys: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    experiment = tracker.ensure_experiment(f"{keys}/e", f"experiment {keys}", {"assay.project": "p"})
    parent = tracker.ensure_run(f"{keys}/parent", experiment, "workflow", None, {}, 1_700_000_000_000)
    child = tracker.ensure_run(f"{keys}/child", experiment, "job", parent, {"assay.kind": "inference"}, 0)

    batches: list[int] = []
    real_log_batch = mlflow_client.log_batch

    def counting_log_batch(run_id: str, **kwargs: Any) -> None:
        batches.append(sum(len(kwargs.get(kind, ())) for kind in ("metrics", "params", "tags")))
        real_log_batch(run_id, **kwargs)

    monkeypatch.setattr(mlflow_client, "log_batch", counting_log_batch)
    metrics = {f"per_example/{index}": index / 10 for index in range(1500)}
    tracker.log_metrics(parent, metrics, step=3, timestamp_ms=1_700_000_000_000)
    tracker.log_params(parent, {f"p{index}": str(index) for index in range(150)})
    assert batches == [1000, 500, 100, 50]  # server limits per request, never one per value
    monkeypatch.undo()

    tracker.set_tags(child, {"odd name!": "value"})
    tracker.log_artifact(parent, "summary.json", b'{"rouge1": 0.4}')
    source = tmp_path / "local-name.bin"
    source.write_bytes(b"\x00\x01" * 50_000)
    tracker.log_artifact(parent, "results/predictions.parquet", source)
    tracker.end_run(child, RunStatus.FAILED, 1_700_000_060_000)

    assert mlflow_client.get_experiment(experiment).tags["assay.project"] == "p"
    run = mlflow_client.get_run(parent)
    assert run.info.start_time == 1_700_000_000_000 and run.info.status == "RUNNING"
    assert run.data.metrics == metrics and len(run.data.params) == 150
    history = mlflow_client.get_metric_history(parent, "per_example/7")
    assert [(point.step, point.timestamp) for point in history] == [(3, 1_700_000_000_000)]
    job = mlflow_client.get_run(child)
    assert job.data.tags["mlflow.parentRunId"] == parent
    assert job.data.tags[KEY_TAG] == f"{keys}/child" and job.data.tags["odd name_"] == "value"
    assert job.info.status == "FAILED" and job.info.end_time == 1_700_000_060_000
    listed = {item.path for item in mlflow_client.list_artifacts(parent)}
    assert listed == {"summary.json", "results"}
    downloaded = mlflow_client.download_artifacts(parent, "results/predictions.parquet", str(tmp_path / "d"))
    assert Path(downloaded).read_bytes() == source.read_bytes()


def test_ensure_finds_what_an_earlier_attempt_created(
    tracker: MlflowTracker, mlflow_client: MlflowClient, keys: str
) -> None:
    experiment = tracker.ensure_experiment(f"{keys}/e", f"experiment {keys}", {})
    assert tracker.ensure_experiment(f"{keys}/e", "another name", {}) == experiment
    run = tracker.ensure_run(f"{keys}/r", experiment, "run", None, {}, 0)
    assert tracker.ensure_run(f"{keys}/r", experiment, "run", None, {}, 0) == run
    assert len(mlflow_client.search_runs([experiment])) == 1

    # Deleted by hand in MLflow while Assay still tracks it: ensuring brings it back.
    mlflow_client.delete_run(run)
    assert tracker.ensure_run(f"{keys}/r", experiment, "run", None, {}, 0) == run
    assert mlflow_client.get_run(run).info.lifecycle_stage == "active"
    mlflow_client.delete_experiment(experiment)
    assert tracker.ensure_experiment(f"{keys}/e", f"experiment {keys}", {}) == experiment
    assert mlflow_client.get_experiment(experiment).lifecycle_stage == "active"


def test_two_assay_experiments_may_share_a_name(
    tracker: MlflowTracker, mlflow_client: MlflowClient, keys: str
) -> None:
    first = tracker.ensure_experiment(f"{keys}/one", f"same {keys}", {})
    second = tracker.ensure_experiment(f"{keys}/two", f"same {keys}", {})
    assert first != second
    assert mlflow_client.get_experiment(second).name == f"same {keys} ({keys}/two)"


def test_deleting_twice_or_deleting_the_unknown_is_done(
    tracker: MlflowTracker, mlflow_client: MlflowClient, keys: str
) -> None:
    experiment = tracker.ensure_experiment(f"{keys}/e", f"experiment {keys}", {})
    run = tracker.ensure_run(f"{keys}/r", experiment, "run", None, {}, 0)
    for _ in range(2):
        tracker.delete_run(run)
        tracker.delete_experiment(experiment)
    tracker.delete_run("0" * 32)
    tracker.delete_experiment("987654321")
    assert mlflow_client.get_experiment(experiment).lifecycle_stage == "deleted"


def test_refusals_and_outages_are_told_apart(tracker: MlflowTracker, keys: str) -> None:
    experiment = tracker.ensure_experiment(f"{keys}/e", f"experiment {keys}", {})
    run = tracker.ensure_run(f"{keys}/r", experiment, "run", None, {}, 0)
    tracker.log_params(run, {"model": "a"})
    with pytest.raises(TrackingRejectedError):
        tracker.log_params(run, {"model": "b"})
    down = MlflowTracker(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingUnavailableError):
        down.check()
    tracker.check()
