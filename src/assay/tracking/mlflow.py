"""The tracking contract on MLflow: a tracking server (``http(s)://``) or a local store that it
writes directly (``sqlite:///`` in embedded mode), chosen by MLflow itself from the URI's scheme.

``mlflow`` is imported on the first operation, so ``import assay`` works without it and a server
starts without paying for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assay.tracking.base import (
    KEY_TAG,
    RunStatus,
    Tracker,
    TrackingRejectedError,
    TrackingUnavailableError,
    check_key,
    split_artifact_path,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# The outbox retries for as long as it takes, so a request waiting minutes on MLflow's own
# retries (7 with backoff by default) would only stall every workflow behind it.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # A self-hosted lab does not report its usage to a third party unless its operator opts in.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# Error codes that describe the request itself: a replay gets the same answer. Every other
# failure (connection refused, 5xx, authentication, an unknown endpoint behind a misconfigured
# proxy) may heal, so it is reported as unavailability and retried.
REJECTED_CODES = frozenset(
    {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE"}
)
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
PARENT_RUN_TAG = "mlflow.parentRunId"
_UNSAFE_NAME = re.compile(r"[^/\w.\- :]")
_UNSAFE_LOCATION = re.compile(r"[^A-Za-z0-9_.-]+")
T = TypeVar("T")


def entity_name(name: str) -> str:
    """A parameter, metric or tag name MLflow accepts: allowed characters only, no empty or
    relative path segments (MLflow refuses names that normalise to another path)."""
    parts = [part for part in _UNSAFE_NAME.sub("_", name).split("/") if part not in ("", ".", "..")]
    return "/".join(parts)[:MAX_KEY_LENGTH] or "_"


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@contextmanager
def _translated_errors() -> Iterator[None]:
    """MLflow's exceptions as the contract's two kinds; a dropped connection surfaces as an
    ``MlflowException`` with ``INTERNAL_ERROR`` and is therefore retried."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code in REJECTED_CODES:
            raise TrackingRejectedError(str(exc)) from exc
        raise TrackingUnavailableError(str(exc)) from exc
    except OSError as exc:
        raise TrackingUnavailableError(str(exc)) from exc


class MlflowTracker(Tracker):
    """``artifact_root`` is where experiments keep artifacts when MLflow is reached without a
    server (a ``file://`` URI under ``ASSAY_HOME``); a server decides that itself (``None``)."""

    def __init__(self, tracking_uri: str, artifact_root: str | None = None) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise RuntimeError("tracking needs MLflow, which is not installed: pip install mlflow")
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root.rstrip("/") if artifact_root else None

    @cached_property
    def client(self) -> MlflowClient:
        """Built on first use, inside an operation: importing MLflow takes seconds and a database
        store creates or migrates its tables when opened, which must neither delay Assay's start
        nor stop it when that database is down (that is an outage like any other)."""
        from mlflow.tracking import MlflowClient

        from assay.db.migrate import MIGRATION_LOCK

        # MLflow announces its table migrations at INFO on stderr: noise in the server's output,
        # and in a CLI command's when the command runs an embedded server (``assay eval``).
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)

        with MIGRATION_LOCK:  # the client opens, and so migrates, its store as it is built
            client = MlflowClient(tracking_uri=self.tracking_uri)
            client.search_experiments(max_results=1)
        return client

    def ensure_experiment(self, key: str, name: str, tags: Mapping[str, str]) -> str:
        from mlflow.entities import LifecycleStage, ViewType
        from mlflow.exceptions import MlflowException

        with _translated_errors():
            found = self.client.search_experiments(
                view_type=ViewType.ALL, max_results=1, filter_string=self._key_filter(key)
            )
            if found:
                if found[0].lifecycle_stage == LifecycleStage.DELETED:
                    self.client.restore_experiment(found[0].experiment_id)
                return found[0].experiment_id
        all_tags = {**self._tags(tags), KEY_TAG: key}
        location = f"{self.artifact_root}/{_UNSAFE_LOCATION.sub('-', key)}" if self.artifact_root else None
        with _translated_errors():
            try:
                return self.client.create_experiment(name, artifact_location=location, tags=all_tags)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            # Experiment names are unique in MLflow, deleted experiments included, while Assay
            # lets two experiments share a name: the key makes this one's name unique.
            return self.client.create_experiment(f"{name} ({key})", artifact_location=location, tags=all_tags)

    def ensure_run(
        self,
        key: str,
        experiment_id: str,
        name: str,
        parent_run_id: str | None,
        tags: Mapping[str, str],
        start_time_ms: int,
    ) -> str:
        from mlflow.entities import LifecycleStage, ViewType

        with _translated_errors():
            found = self.client.search_runs(
                [experiment_id], self._key_filter(key), run_view_type=ViewType.ALL, max_results=1
            )
            if found:
                if found[0].info.lifecycle_stage == LifecycleStage.DELETED:
                    self.client.restore_run(found[0].info.run_id)
                return str(found[0].info.run_id)
            all_tags = {**self._tags(tags), KEY_TAG: key}
            if parent_run_id is not None:
                all_tags[PARENT_RUN_TAG] = parent_run_id
            run = self.client.create_run(
                experiment_id, start_time=start_time_ms, tags=all_tags, run_name=name
            )
            return str(run.info.run_id)

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        entities = [Param(entity_name(key), value[:MAX_PARAM_VALUE_LENGTH]) for key, value in params.items()]
        self._log_batch(run_id, params=entities)

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], step: int | None, timestamp_ms: int
    ) -> None:
        from mlflow.entities import Metric

        entities = [
            Metric(entity_name(key), float(value), timestamp_ms, step or 0) for key, value in metrics.items()
        ]
        self._log_batch(run_id, metrics=entities)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self._log_batch(run_id, tags=[RunTag(key, value) for key, value in self._tags(tags).items()])

    def _log_batch(
        self, run_id: str, metrics: Sequence[Any] = (), params: Sequence[Any] = (), tags: Sequence[Any] = ()
    ) -> None:
        """One ``log_batch`` request per server limit (1000 metrics, 100 params or tags)."""
        with _translated_errors():
            for chunk in _chunks(metrics, MAX_METRICS_PER_BATCH):
                self.client.log_batch(run_id, metrics=chunk, synchronous=True)
            for chunk in _chunks(params, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(run_id, params=chunk, synchronous=True)
            for chunk in _chunks(tags, MAX_PARAMS_PER_BATCH):
                self.client.log_batch(run_id, tags=chunk, synchronous=True)

    def log_artifact(self, run_id: str, path: str, source: bytes | Path) -> None:
        directory, filename = split_artifact_path(path)
        with tempfile.TemporaryDirectory(prefix="assay-artifact-") as staging:
            # MLflow names the artifact after the local file: stage it under the wanted name.
            local = Path(staging) / filename
            if isinstance(source, bytes):
                local.write_bytes(source)
            else:
                local.symlink_to(source.resolve())
            with _translated_errors():
                self.client.log_artifact(run_id, str(local), artifact_path=directory or None)

    def end_run(self, run_id: str, status: RunStatus, end_time_ms: int) -> None:
        with _translated_errors():
            self.client.set_terminated(run_id, status=str(status), end_time=end_time_ms)

    def delete_run(self, run_id: str) -> None:
        from mlflow.entities import LifecycleStage

        with _translated_errors(), self._unless_gone():
            if self.client.get_run(run_id).info.lifecycle_stage != LifecycleStage.DELETED:
                self.client.delete_run(run_id)

    def delete_experiment(self, experiment_id: str) -> None:
        from mlflow.entities import LifecycleStage

        with _translated_errors(), self._unless_gone():
            if self.client.get_experiment(experiment_id).lifecycle_stage != LifecycleStage.DELETED:
                self.client.delete_experiment(experiment_id)

    def check(self) -> None:
        with _translated_errors():
            self.client.search_experiments(max_results=1)

    @staticmethod
    @contextmanager
    def _unless_gone() -> Iterator[None]:
        """Deleting what does not exist (never created, or purged by ``mlflow gc``) is done."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise

    @staticmethod
    def _key_filter(key: str) -> str:
        return f"tags.`{KEY_TAG}` = '{check_key(key)}'"

    @staticmethod
    def _tags(tags: Mapping[str, str]) -> dict[str, str]:
        return {entity_name(key): value[:MAX_TAG_VALUE_LENGTH] for key, value in tags.items()}
