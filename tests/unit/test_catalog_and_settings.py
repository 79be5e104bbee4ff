from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import Settings
from assay.errors import UnsupportedError
from assay.services.catalog import ModelCatalog
from assay.tasks import TASKS


def test_catalog_covers_every_task_and_provider_kind() -> None:
    catalog = ModelCatalog.load_default()
    for task in TASKS:
        assert catalog.for_tasks([task]), task
    providers = {entry.provider for entry in catalog.entries}
    assert {"hf", "openai", "openai-compatible"} <= providers
    assert all(
        isinstance(params, dict)
        for entry in catalog.entries
        for task in entry.tasks
        for params in task.values()
    )


def test_unknown_task_lists_the_valid_ones() -> None:
    with pytest.raises(UnsupportedError, match="valid tasks: summarization") as caught:
        ModelCatalog.load_default().for_tasks(["summarization", "dancing"])
    assert caught.value.field == "tasks"


def test_settings_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/assay.db"
    assert settings.resolved_storage_url == f"file://{tmp_path}/objects"
    assert (settings.host, settings.port, settings.max_dataset_bytes) == ("127.0.0.1", 8000, 1024**3)
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("ASSAY_MAX_DATASET_BYTES", "10")
    assert Settings().resolved_database_url == "postgresql://u@h/db"
    assert Settings().max_dataset_bytes == 10
