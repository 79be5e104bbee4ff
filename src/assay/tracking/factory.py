"""Choose where tracking goes from ``ASSAY_TRACKING_URI``: an MLflow server (``http(s)://``) or,
by default, an MLflow store that Assay writes itself under ``ASSAY_HOME`` (``sqlite:///``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from assay.config import Settings
from assay.tracking.base import Tracker
from assay.tracking.mlflow import MlflowTracker


def open_tracker(settings: Settings) -> Tracker:
    """A server keeps artifacts where it was told to (``--artifacts-destination``); a local
    store has no such place, so its experiments keep them in ``ASSAY_HOME/mlartifacts``.

    Other databases are refused: several replicas would need a shared artifact place that only
    a server provides, and MLflow blocks for minutes retrying a database that is down.
    """
    uri = settings.resolved_tracking_uri
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return MlflowTracker(uri)
    if scheme == "sqlite":
        return MlflowTracker(uri, artifact_root=(settings.home / "mlartifacts").as_uri())
    raise ValueError(
        f"ASSAY_TRACKING_URI has an unsupported scheme {scheme!r}; use http(s):// for an MLflow "
        "server or sqlite:///path/mlflow.db for a local store"
    )
