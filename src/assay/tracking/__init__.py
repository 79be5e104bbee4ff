"""Experiment tracking: one contract (``Tracker``), implemented on MLflow, fed by an outbox."""

from assay.tracking.base import (
    KEY_TAG,
    RunStatus,
    Tracker,
    TrackingError,
    TrackingRejectedError,
    TrackingUnavailableError,
)
from assay.tracking.factory import open_tracker
from assay.tracking.redaction import REDACTED, prepare_params

__all__ = [
    "KEY_TAG",
    "REDACTED",
    "RunStatus",
    "Tracker",
    "TrackingError",
    "TrackingRejectedError",
    "TrackingUnavailableError",
    "open_tracker",
    "prepare_params",
]
