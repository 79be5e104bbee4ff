"""Embedded mode: tracking to an MLflow store under ``ASSAY_HOME``, with no server at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.services.tracking import TrackingDrain
from assay.storage.local import LocalObjectStore
from assay.tracking import open_tracker
from assay.tracking.mlflow import MlflowTracker
from tests.integration.tracking.scenario import Workflow, assert_mirrored


@pytest.mark.parametrize("session", ["sqlite"], indirect=True)
def test_embedded_tracking_writes_a_local_store_under_home(
    session: Session, store: LocalObjectStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tracker = open_tracker(Settings(home=home))
    assert isinstance(tracker, MlflowTracker)
    assert tracker.tracking_uri == f"sqlite:///{home / 'mlflow.db'}"

    workflow = Workflow.named("local")
    workflow.enqueue(session, store)
    assert TrackingDrain(session, tracker, store).drain() == 10
    assert_mirrored(tracker.client, workflow, tmp_path / "downloads")
    assert (home / "mlflow.db").is_file()
    [artifact] = (home / "mlartifacts").rglob("predictions.jsonl")
    assert artifact.relative_to(home / "mlartifacts").parts[0] == "local-experiment"
