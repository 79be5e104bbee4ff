"""The tracking outbox: SQL commits what happened, the tracking server learns it when it can.

A service that changes state calls ``TrackingOutbox`` in the same transaction, so the change
and the note that MLflow must mirror it commit together or not at all. ``TrackingDrain`` later
replays the notes through a ``Tracker``: when the server is down the workflow does not wait or
fail, the notes wait; when it is back they are applied, in order, each exactly once in effect.

Every operation belongs to a *stream*, the Assay key of its experiment. A stream's operations
are applied in the order they were enqueued (a run is created before it is logged to, a parent
run before its children, deletions last); separate streams do not wait for each other.

Operations and their payloads (timestamps are fixed at enqueue time, so a replay writes the
identical values, which the tracker keeps once):

- ``ensure_experiment``: ``{"name", "tags"}``; the stream is the experiment's key.
- ``ensure_run``: ``{"key", "name", "parent": run key | None, "tags", "start_time_ms"}``.
- ``log_params``: ``{"run", "params": {name: text}}``.
- ``log_metrics``: ``{"run", "metrics": {name: number | "nan" | "inf" | "-inf"}, "step",
  "timestamp_ms"}``.
- ``set_tags``: ``{"run", "tags": {name: text}}``.
- ``log_artifact``: ``{"run", "path", "object_key"}``; the object is streamed from storage.
- ``end_run``: ``{"run", "status": "FINISHED" | "FAILED" | "KILLED", "end_time_ms"}``.
- ``delete_run``: ``{"run"}``.
- ``delete_experiment``: ``{}``; the stream is the experiment's key.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from assay.records import OutboxState, TrackingOutboxRecord
from assay.records.base import utcnow
from assay.repositories.tracking import TrackingLinkRepository, TrackingOutboxRepository
from assay.storage import ObjectStore, StorageError
from assay.tracking.base import (
    RunStatus,
    Tracker,
    TrackingRejectedError,
    TrackingUnavailableError,
    check_key,
    split_artifact_path,
)
from assay.tracking.redaction import prepare_params

log = logging.getLogger(__name__)
RETRY_BASE = dt.timedelta(seconds=5)
RETRY_MAX = dt.timedelta(minutes=5)


class Operation(enum.StrEnum):
    ENSURE_EXPERIMENT = "ensure_experiment"
    ENSURE_RUN = "ensure_run"
    LOG_PARAMS = "log_params"
    LOG_METRICS = "log_metrics"
    SET_TAGS = "set_tags"
    LOG_ARTIFACT = "log_artifact"
    END_RUN = "end_run"
    DELETE_RUN = "delete_run"
    DELETE_EXPERIMENT = "delete_experiment"


def _millis(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _metric_values(metrics: Mapping[str, float]) -> dict[str, float | str]:
    """Metrics as JSON can hold them: PostgreSQL's JSON has no NaN or infinity, so those travel
    as the text ``float()`` reads back."""
    values: dict[str, float | str] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"metric {name!r} is not a number: {value!r}")
        values[name] = float(value) if math.isfinite(value) else str(float(value))
    return values


class TrackingOutbox:
    """Enqueues tracking operations in the caller's transaction (flushed, never committed).

    ``experiment`` is always the Assay key of the experiment, ``run`` the key of a run in it;
    keys are caller-chosen, stable strings such as ``workflow/<uuid>``. Parameters and tags are
    flattened and redacted here, so secrets reach neither this table nor the tracking server.
    """

    def __init__(self, session: Session) -> None:
        self.outbox = TrackingOutboxRepository(session)

    def ensure_experiment(self, experiment: str, name: str, tags: Mapping[str, Any] | None = None) -> None:
        self._enqueue(experiment, Operation.ENSURE_EXPERIMENT, name=name, tags=prepare_params(tags or {}))

    def ensure_run(
        self,
        experiment: str,
        run: str,
        name: str,
        parent: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """A run of the experiment, nested under the run keyed ``parent`` when given."""
        self._enqueue(
            experiment,
            Operation.ENSURE_RUN,
            key=check_key(run),
            name=name,
            parent=check_key(parent) if parent is not None else None,
            tags=prepare_params(tags or {}),
            start_time_ms=_millis(utcnow()),
        )

    def log_params(self, experiment: str, run: str, params: Mapping[str, Any]) -> None:
        """Nested configuration becomes dotted parameters (``generation.temperature``)."""
        self._enqueue(experiment, Operation.LOG_PARAMS, run=check_key(run), params=prepare_params(params))

    def log_metrics(
        self, experiment: str, run: str, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """All ``metrics`` go to the tracker in one batch."""
        self._enqueue(
            experiment,
            Operation.LOG_METRICS,
            run=check_key(run),
            metrics=_metric_values(metrics),
            step=step,
            timestamp_ms=_millis(utcnow()),
        )

    def set_tags(self, experiment: str, run: str, tags: Mapping[str, Any]) -> None:
        self._enqueue(experiment, Operation.SET_TAGS, run=check_key(run), tags=prepare_params(tags))

    def log_artifact(self, experiment: str, run: str, path: str, object_key: str) -> None:
        """Copy the stored object ``object_key`` to ``path`` in the run's artifacts when the
        operation is applied: the object must still exist then."""
        split_artifact_path(path)
        self._enqueue(
            experiment, Operation.LOG_ARTIFACT, run=check_key(run), path=path, object_key=object_key
        )

    def end_run(self, experiment: str, run: str, status: RunStatus) -> None:
        self._enqueue(
            experiment,
            Operation.END_RUN,
            run=check_key(run),
            status=str(status),
            end_time_ms=_millis(utcnow()),
        )

    def delete_run(self, experiment: str, run: str) -> None:
        self._enqueue(experiment, Operation.DELETE_RUN, run=check_key(run))

    def delete_experiment(self, experiment: str) -> None:
        self._enqueue(experiment, Operation.DELETE_EXPERIMENT)

    def _enqueue(self, experiment: str, operation: Operation, **payload: Any) -> None:
        self.outbox.enqueue(check_key(experiment), str(operation), payload)


class _Rejected(Exception):
    """The operation can never be applied (what it needs is gone or was never created)."""


class _Outcome(enum.Enum):
    APPLIED = enum.auto()
    REJECTED = enum.auto()
    RETRY = enum.auto()
    UNAVAILABLE = enum.auto()


class TrackingDrain:
    """Applies pending outbox operations through ``tracker``; artifacts come from ``store``.

    Run it from one process at a time (the reconciler's leader): two drains applying the same
    creation at once could both find nothing and both create. A failure never reaches the
    caller: the operation records the attempt and the error and waits (backing off
    exponentially) while the rest of its stream waits behind it. A refusal the tracker says is
    final, or a run whose creation was refused, marks the operation ``rejected`` instead.
    """

    def __init__(self, session: Session, tracker: Tracker, store: ObjectStore) -> None:
        self.session = session
        self.tracker = tracker
        self.store = store
        self.outbox = TrackingOutboxRepository(session)
        self.links = TrackingLinkRepository(session)
        self._handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            Operation.ENSURE_EXPERIMENT: self._ensure_experiment,
            Operation.ENSURE_RUN: self._ensure_run,
            Operation.LOG_PARAMS: self._log_params,
            Operation.LOG_METRICS: self._log_metrics,
            Operation.SET_TAGS: self._set_tags,
            Operation.LOG_ARTIFACT: self._log_artifact,
            Operation.END_RUN: self._end_run,
            Operation.DELETE_RUN: self._delete_run,
            Operation.DELETE_EXPERIMENT: self._delete_experiment,
        }

    def drain(self, limit: int = 100, now: dt.datetime | None = None) -> int:
        """Try at most ``limit`` operations due at ``now`` (default: the present); returns how
        many were applied. Stops at the first sign that the tracking server is down, since
        every other operation would fail the same way."""
        now = now or utcnow()
        waiting: set[str] = set()
        applied = tried = 0
        while tried < limit:
            heads = self.outbox.due_heads(now, limit - tried, waiting)
            if not heads:
                break
            for operation in heads:
                tried += 1
                outcome = self._apply(operation)
                if outcome is _Outcome.UNAVAILABLE:
                    return applied
                if outcome is _Outcome.RETRY:
                    waiting.add(operation.stream)
                elif outcome is _Outcome.APPLIED:
                    applied += 1
        return applied

    def _apply(self, operation: TrackingOutboxRecord) -> _Outcome:
        handler = self._handlers.get(operation.operation)
        try:
            if handler is None:
                raise _Rejected(f"unknown tracking operation {operation.operation!r}")
            handler(operation.stream, operation.payload)
        except (_Rejected, TrackingRejectedError) as exc:
            self._reject(operation, exc)
            return _Outcome.REJECTED
        except TrackingUnavailableError as exc:
            self._postpone(operation, exc)
            return _Outcome.UNAVAILABLE
        except StorageError as exc:
            self._postpone(operation, exc)
            return _Outcome.RETRY
        except Exception as exc:
            log.exception("tracking operation %d (%s) failed", operation.id, operation.operation)
            self._postpone(operation, exc)
            return _Outcome.RETRY
        self.outbox.applied(operation)
        self.session.commit()
        return _Outcome.APPLIED

    def _reject(self, operation: TrackingOutboxRecord, exc: Exception) -> None:
        self.session.rollback()
        operation.state = OutboxState.REJECTED
        operation.attempts += 1
        operation.last_error = str(exc)[:1000]
        self.session.commit()
        log.warning("tracking operation %d (%s) rejected: %s", operation.id, operation.operation, exc)

    def _postpone(self, operation: TrackingOutboxRecord, exc: Exception) -> None:
        self.session.rollback()
        operation.attempts += 1
        operation.last_error = str(exc)[:1000]
        operation.next_attempt_at = utcnow() + min(RETRY_BASE * 2 ** (operation.attempts - 1), RETRY_MAX)
        self.session.commit()
        log.warning(
            "tracking operation %d (%s) failed (attempt %d), retrying later: %s",
            operation.id,
            operation.operation,
            operation.attempts,
            exc,
        )

    def _tracking_id(self, key: str) -> str:
        link = self.links.get(key)
        if link is None:
            raise _Rejected(f"{key} does not exist in tracking: its creation was rejected or never asked")
        return link.tracking_id

    def _ensure_experiment(self, stream: str, payload: dict[str, Any]) -> None:
        experiment_id = self.tracker.ensure_experiment(stream, payload["name"], payload["tags"])
        self.links.save(stream, "experiment", stream, experiment_id)

    def _ensure_run(self, stream: str, payload: dict[str, Any]) -> None:
        parent = payload["parent"]
        run_id = self.tracker.ensure_run(
            payload["key"],
            self._tracking_id(stream),
            payload["name"],
            self._tracking_id(parent) if parent is not None else None,
            payload["tags"],
            payload["start_time_ms"],
        )
        self.links.save(payload["key"], "run", stream, run_id)

    def _log_params(self, stream: str, payload: dict[str, Any]) -> None:
        self.tracker.log_params(self._tracking_id(payload["run"]), payload["params"])

    def _log_metrics(self, stream: str, payload: dict[str, Any]) -> None:
        metrics = {name: float(value) for name, value in payload["metrics"].items()}
        self.tracker.log_metrics(
            self._tracking_id(payload["run"]), metrics, payload["step"], payload["timestamp_ms"]
        )

    def _set_tags(self, stream: str, payload: dict[str, Any]) -> None:
        self.tracker.set_tags(self._tracking_id(payload["run"]), payload["tags"])

    def _log_artifact(self, stream: str, payload: dict[str, Any]) -> None:
        run_id = self._tracking_id(payload["run"])
        with tempfile.TemporaryDirectory(prefix="assay-outbox-") as staging:
            local = Path(staging) / "object"
            try:
                with local.open("wb") as file:
                    for chunk in self.store.iter_chunks(payload["object_key"]):
                        file.write(chunk)
            except KeyError as exc:
                raise _Rejected(f"object {payload['object_key']!r} no longer exists") from exc
            self.tracker.log_artifact(run_id, payload["path"], local)

    def _end_run(self, stream: str, payload: dict[str, Any]) -> None:
        self.tracker.end_run(
            self._tracking_id(payload["run"]), RunStatus(payload["status"]), payload["end_time_ms"]
        )

    def _delete_run(self, stream: str, payload: dict[str, Any]) -> None:
        """A run whose creation was refused has nothing to delete."""
        link = self.links.get(payload["run"])
        if link is not None:
            self.tracker.delete_run(link.tracking_id)
            self.links.delete(link)

    def _delete_experiment(self, stream: str, payload: dict[str, Any]) -> None:
        link = self.links.get(stream)
        if link is not None:
            self.tracker.delete_experiment(link.tracking_id)
        self.links.forget_stream(stream)
