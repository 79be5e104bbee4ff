"""Providers and tasks described in one place each: a plug-in's provider brings its own options
(through the public call or an entry point), and every task has its request model and defaults."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assay.inference import InferenceConfig, provider_names, registry
from assay.tasks import TASK_NAMES, TaskDefinition

BASE: dict[str, Any] = {"model": "m", "dataset_key": "d", "predictions_key": "p", "checkpoint_prefix": "c/"}


def test_an_installed_package_declares_a_provider_with_its_own_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "assay_shout-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: assay-shout\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[assay.providers]\nshout-ep = tests.plugins.shout:ShoutProvider\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._installed.cache_clear()
    try:
        assert "shout-ep" in provider_names()
        config = InferenceConfig.model_validate(BASE | {"provider": "shout-ep", "options": {"repeat": 2}})
        assert config.provider_target == "tests.plugins.shout:ShoutProvider"
        assert config.cache_identity()["repeat"] == 2
        with pytest.raises(ValidationError) as caught:
            InferenceConfig.model_validate(BASE | {"provider": "shout-ep", "options": {"repeat": 9}})
        assert caught.value.errors()[0]["loc"] == ("options", "repeat")
    finally:
        registry._installed.cache_clear()


def test_a_registration_names_a_module_and_a_class() -> None:
    with pytest.raises(ValueError, match=r"package\.module:Class"):
        registry.register_provider("broken", "no_colon_here")


def test_every_task_has_its_request_model_and_only_those() -> None:
    (union, _) = typing.get_args(TaskDefinition)
    literals = {typing.get_args(model.model_fields["task"].annotation)[0] for model in typing.get_args(union)}
    assert literals == set(TASK_NAMES)
