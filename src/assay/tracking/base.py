"""The contract between Assay and the tracking server that mirrors experiments for people.

Tracking is a mirror, never the source of truth: SQL records what happened and the tracking
outbox (``assay.services.tracking``) replays it here. Every operation is therefore written to
be replayed: ``ensure_*`` find what an earlier attempt created by its Assay key before they
create anything, logging the same values twice leaves one copy, deleting twice is not an error.
"""

from __future__ import annotations

import enum
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

KEY_TAG = "assay.key"
"""The tag that carries the Assay key on every experiment and run, so a replay finds them."""

_KEY = re.compile(r"[A-Za-z0-9_.:/-]{1,255}")


class TrackingError(Exception):
    """The tracking server did not do what was asked."""


class TrackingUnavailableError(TrackingError):
    """The tracking server cannot be reached or failed on its side: try again later."""


class TrackingRejectedError(TrackingError):
    """The tracking server refused this very request (bad value, missing run): a replay of the
    same request fails the same way, so it is not retried."""


class RunStatus(enum.StrEnum):
    """Terminal statuses of a tracking run (MLflow's names)."""

    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


def check_key(key: str) -> str:
    """Assay keys are looked up inside tracking filter strings: a closed alphabet keeps them from
    ever being read as filter syntax."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid tracking key {key!r}: use 1-255 of A-Z a-z 0-9 _ . : / -")
    return key


def split_artifact_path(path: str) -> tuple[str, str]:
    """The folder and file name of an artifact inside a run (``results/predictions.jsonl``)."""
    directory, filename = posixpath.split(path.lstrip("/"))
    if filename in ("", ".", ".."):
        raise ValueError(f"artifact path {path!r} names no file")
    return directory, filename


class Tracker(ABC):
    """Experiments holding runs (nested through a parent run), with parameters, metrics, tags and
    artifacts. Ids returned and taken are the tracking server's own; Assay keys appear only in
    ``ensure_*``. Parameters and tags must already be redacted (``prepare_params``)."""

    @abstractmethod
    def ensure_experiment(self, key: str, name: str, tags: Mapping[str, str]) -> str:
        """The id of the experiment tagged with ``key``, created (named ``name``, or a variant of
        it when the name is taken) if there is none, restored if it was deleted."""

    @abstractmethod
    def ensure_run(
        self,
        key: str,
        experiment_id: str,
        name: str,
        parent_run_id: str | None,
        tags: Mapping[str, str],
        start_time_ms: int,
    ) -> str:
        """The id of the run tagged with ``key`` in the experiment, created if there is none
        (nested under ``parent_run_id`` when given), restored if it was deleted."""

    @abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Record parameters; a parameter logged again must keep its value."""

    @abstractmethod
    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], step: int | None, timestamp_ms: int
    ) -> None:
        """Record metrics in as few requests as the server allows (never one per metric). The
        caller fixes ``timestamp_ms`` so that a replay writes the identical points, which the
        server keeps once."""

    @abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set (or overwrite) tags of a run."""

    @abstractmethod
    def log_artifact(self, run_id: str, path: str, source: bytes | Path) -> None:
        """Store ``source`` (bytes, or a local file streamed from disk) at ``path`` inside the
        run's artifacts, replacing what an earlier attempt stored there."""

    @abstractmethod
    def end_run(self, run_id: str, status: RunStatus, end_time_ms: int) -> None:
        """Mark the run finished with ``status`` at ``end_time_ms``."""

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete the run; a run already deleted or unknown is not an error."""

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Delete the experiment and its runs; one already deleted or unknown is not an error."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``TrackingUnavailableError`` if the server cannot be reached."""
