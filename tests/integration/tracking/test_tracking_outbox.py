"""The outbox against a real MLflow server: complete, in order, never duplicated, never lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from assay.records import OutboxState, TrackingLinkRecord
from assay.records.base import utcnow
from assay.services.tracking import TrackingDrain, TrackingOutbox
from assay.storage import StorageError
from assay.storage.local import LocalObjectStore
from assay.tracking import RunStatus
from assay.tracking.mlflow import MlflowTracker
from tests.integration.tracking.scenario import (
    SECRET,
    Workflow,
    assert_mirrored,
    experiment_id,
    pending,
    runs_with_key,
)
from tests.servers import MlflowServer

pytestmark = pytest.mark.slow
LATER = dt.timedelta(hours=1)


class ProcessCrash(BaseException):
    """The process dies: nothing after this point runs, nothing uncommitted is kept."""


def record_calls(tracker: MlflowTracker, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every call that reaches the tracker, in order, with its first argument."""
    calls: list[tuple[str, Any]] = []
    names = ["ensure_experiment", "ensure_run", "log_params", "log_metrics", "set_tags"]
    names += ["log_artifact", "end_run", "delete_run", "delete_experiment"]
    for name in names:

        def spy(*args: Any, _name: str = name, _real: Callable[..., Any] = getattr(tracker, name)) -> Any:
            calls.append((_name, args[0]))
            return _real(*args)

        monkeypatch.setattr(tracker, name, spy)
    return calls


def test_drain_mirrors_a_workflow_and_empties_the_outbox(
    session: Session,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
    tmp_path: Path,
) -> None:
    workflow = Workflow.named(keys)
    workflow.enqueue(session, store)

    assert TrackingDrain(session, tracker, store).drain() == 10
    assert pending(session) == []
    assert_mirrored(mlflow_client, workflow, tmp_path)
    links = {link.key: link.kind for link in session.scalars(select(TrackingLinkRecord))}
    assert links == {workflow.experiment: "experiment", workflow.run: "run", workflow.job: "run"}

    # A second drain has nothing to do and changes nothing.
    assert TrackingDrain(session, tracker, store).drain() == 0
    assert_mirrored(mlflow_client, workflow, tmp_path)


def test_secrets_never_reach_the_outbox_table(session: Session, store: LocalObjectStore, keys: str) -> None:
    Workflow.named(keys).enqueue(session, store)
    stored = session.execute(text("SELECT CAST(payload AS TEXT) FROM tracking_outbox")).scalars().all()
    assert stored and not any(SECRET in payload for payload in stored)


@pytest.mark.parametrize(
    "crash_in", ["ensure_experiment", "ensure_run", "log_params", "log_metrics", "log_artifact"]
)
def test_a_crash_after_mlflow_applied_an_operation_duplicates_nothing(
    crash_in: str,
    session: Session,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLflow applied the request, then the process died before committing that it did: the
    replay must find what was created and write the identical values, not a second copy."""
    workflow = Workflow.named(keys)
    workflow.enqueue(session, store)
    real = getattr(tracker, crash_in)

    def applied_then_crash(*args: Any) -> Any:
        real(*args)
        raise ProcessCrash

    monkeypatch.setattr(tracker, crash_in, applied_then_crash)
    with pytest.raises(ProcessCrash):
        TrackingDrain(session, tracker, store).drain()
    session.rollback()
    monkeypatch.undo()

    assert TrackingDrain(session, tracker, store).drain() > 0
    assert pending(session) == []
    assert_mirrored(mlflow_client, workflow, tmp_path)


@pytest.mark.parametrize("session", ["sqlite"], indirect=True)
def test_mlflow_down_the_workflow_goes_on_and_tracking_catches_up_in_order(
    session: Session,
    mlflow_server: MlflowServer,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = Workflow.named(f"{keys}-earlier")
    earlier.enqueue(session, store)
    assert TrackingDrain(session, tracker, store).drain() == 10

    workflow = Workflow.named(keys)
    workflow.start(session, store)
    session.commit()
    mlflow_server.stop()
    try:
        drain = TrackingDrain(session, tracker, store)
        assert drain.drain() == 0
        first, *rest = pending(session)
        assert first.attempts == 1 and first.state == OutboxState.PENDING
        assert first.last_error and first.next_attempt_at > utcnow()
        assert all(operation.attempts == 0 for operation in rest)

        # The workflow finishes while MLflow is down: its tracking waits in the outbox.
        workflow.finish(session)
        session.commit()
        backoff = first.next_attempt_at
        assert drain.drain(now=utcnow() + LATER) == 0
        [first, *_] = pending(session)
        assert first.attempts == 2 and first.next_attempt_at > backoff
        assert len(pending(session)) == 10
    finally:
        mlflow_server.restart()

    calls = record_calls(tracker, monkeypatch)
    assert drain.drain(now=utcnow() + LATER) == 10
    assert pending(session) == []
    assert [name for name, _ in calls] == [
        "ensure_experiment",
        "ensure_run",
        "log_params",
        "ensure_run",
        "set_tags",
        "log_metrics",
        "end_run",
        "log_metrics",
        "log_artifact",
        "end_run",
    ]  # each operation once, in the order it was enqueued
    assert_mirrored(mlflow_client, workflow, tmp_path)
    assert_mirrored(mlflow_client, earlier, tmp_path / "earlier")  # the restart kept MLflow's data


def test_a_stream_waits_behind_its_failing_operation_while_others_go_on(
    session: Session,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked, free = Workflow.named(f"{keys}-blocked"), Workflow.named(f"{keys}-free")
    blocked.enqueue(session, store)
    free.enqueue(session, store)

    real_chunks = store.iter_chunks

    def unreadable_for_blocked(key: str, chunk_size: int = 1024 * 1024) -> Any:
        if key.startswith(blocked.run):
            raise StorageError("storage refused the read")
        return real_chunks(key, chunk_size)

    monkeypatch.setattr(store, "iter_chunks", unreadable_for_blocked)
    drain = TrackingDrain(session, tracker, store)
    assert drain.drain() == 8 + 10
    waiting = pending(session)
    assert [(operation.operation, operation.attempts) for operation in waiting] == [
        ("log_artifact", 1),
        ("end_run", 0),
    ]
    [run] = runs_with_key(mlflow_client, experiment_id(mlflow_client, blocked.experiment), blocked.run)
    assert run.info.status == "RUNNING"  # its end waits for the artifact logged before it

    monkeypatch.undo()
    assert drain.drain(now=utcnow() + LATER) == 2
    assert_mirrored(mlflow_client, blocked, tmp_path / "blocked")
    assert_mirrored(mlflow_client, free, tmp_path / "free")


def test_refused_operations_are_set_aside_and_the_stream_goes_on(
    session: Session,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
) -> None:
    experiment, run = f"{keys}/experiment", f"{keys}/run"
    outbox = TrackingOutbox(session)
    outbox.ensure_experiment(experiment, f"refusals {keys}")
    outbox.ensure_run(experiment, run, "run")
    outbox.log_params(experiment, run, {"model": "a"})
    outbox.log_params(experiment, run, {"model": "b"})  # MLflow parameters never change
    outbox.log_metrics(experiment, f"{keys}/never-created", {"x": 1.0})
    outbox.log_artifact(experiment, run, "gone.txt", "no/such/object")
    outbox.log_metrics(experiment, run, {"after": 1.0})
    session.commit()

    assert TrackingDrain(session, tracker, store).drain() == 4
    refused = pending(session)
    assert [(operation.operation, operation.state) for operation in refused] == [
        ("log_params", OutboxState.REJECTED),
        ("log_metrics", OutboxState.REJECTED),
        ("log_artifact", OutboxState.REJECTED),
    ]
    assert "never-created does not exist in tracking" in (refused[1].last_error or "")
    assert "no longer exists" in (refused[2].last_error or "")
    [mirrored] = runs_with_key(mlflow_client, experiment_id(mlflow_client, experiment), run)
    assert mirrored.data.params == {"model": "a"} and mirrored.data.metrics == {"after": 1.0}


def test_deletions_are_mirrored_and_replays_of_them_are_harmless(
    session: Session,
    tracker: MlflowTracker,
    mlflow_client: MlflowClient,
    store: LocalObjectStore,
    keys: str,
) -> None:
    workflow = Workflow.named(keys)
    workflow.enqueue(session, store)
    outbox = TrackingOutbox(session)
    outbox.delete_run(workflow.experiment, workflow.job)
    outbox.delete_run(workflow.experiment, workflow.job)
    session.commit()
    drain = TrackingDrain(session, tracker, store)
    assert drain.drain() == 12
    experiment = experiment_id(mlflow_client, workflow.experiment)
    [job] = runs_with_key(mlflow_client, experiment, workflow.job)
    assert job.info.lifecycle_stage == "deleted"
    assert session.get(TrackingLinkRecord, workflow.job) is None

    outbox.delete_experiment(workflow.experiment)
    outbox.delete_experiment(workflow.experiment)
    session.commit()
    assert drain.drain() == 2
    assert mlflow_client.get_experiment(experiment).lifecycle_stage == "deleted"
    assert session.scalars(select(TrackingLinkRecord)).all() == []
    assert pending(session) == []


def test_outbox_refuses_bad_input_before_anything_is_stored(session: Session, keys: str) -> None:
    outbox = TrackingOutbox(session)
    with pytest.raises(ValueError, match="not a number"):
        outbox.log_metrics(f"{keys}/e", f"{keys}/r", {"rouge": "high"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="invalid tracking key"):
        outbox.ensure_run(f"{keys}/e", "it's", "name")
    with pytest.raises(ValueError, match="names no file"):
        outbox.log_artifact(f"{keys}/e", f"{keys}/r", "results/", "some/object")
    assert pending(session) == []


def test_end_run_statuses_reach_mlflow(
    session: Session, tracker: MlflowTracker, mlflow_client: MlflowClient, store: LocalObjectStore, keys: str
) -> None:
    experiment = f"{keys}/experiment"
    outbox = TrackingOutbox(session)
    outbox.ensure_experiment(experiment, f"statuses {keys}")
    for status in RunStatus:
        outbox.ensure_run(experiment, f"{keys}/{status}", str(status))
        outbox.end_run(experiment, f"{keys}/{status}", status)
    session.commit()
    TrackingDrain(session, tracker, store).drain()
    mlflow_experiment = experiment_id(mlflow_client, experiment)
    for status in RunStatus:
        [run] = runs_with_key(mlflow_client, mlflow_experiment, f"{keys}/{status}")
        assert run.info.status == status and run.info.end_time is not None
