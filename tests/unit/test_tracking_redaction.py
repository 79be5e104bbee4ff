"""Secrets out of tracking parameters, names MLflow accepts, and the tracker chosen by URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import Settings
from assay.tracking import REDACTED, open_tracker, prepare_params
from assay.tracking.base import check_key
from assay.tracking.mlflow import MlflowTracker, entity_name
from assay.tracking.redaction import is_secret_name


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "OPENAI_API_KEY",
        "token",
        "hf_token",
        "password",
        "db.password",
        "client_secret",
        "headers.Authorization",
        "aws_access_key",
        "credentials.user",
        "private_key",
        "auth",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "model",
        "max_tokens",
        "max_new_tokens",
        "secret_key_name",
        "token_limit",
        "tokenizer",
        "keyword",
        "monkey",
        "temperature",
        "base_url",
        "",
    ],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert not is_secret_name(name)


def test_prepare_params_flattens_and_redacts_at_every_depth() -> None:
    params = prepare_params(
        {
            "model": "gpt",
            "generation": {"temperature": 0.2, "max_tokens": 64, "stop": ["\n"]},
            "api_key": "sk-1",
            "secret_key_name": "openai",
            "headers": {"Authorization": "Bearer sk-2", "Accept": "json"},
            "endpoints": [{"url": "http://u:pw@h/x", "token": "t-3"}],
            "base_url": "https://user:sk-4@llm.example/v1",
            "retries": None,
            "debug": True,
        }
    )
    assert params == {
        "model": "gpt",
        "generation.temperature": "0.2",
        "generation.max_tokens": "64",
        "generation.stop": '["\\n"]',
        "api_key": REDACTED,
        "secret_key_name": "openai",
        "headers.Authorization": REDACTED,
        "headers.Accept": "json",
        "endpoints": f'[{{"url": "http://u:{REDACTED}@h/x", "token": "{REDACTED}"}}]',
        "base_url": f"https://user:{REDACTED}@llm.example/v1",
        "retries": "None",
        "debug": "True",
    }
    assert not any(secret in value for value in params.values() for secret in ("sk-", "pw@", "t-3"))


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("rouge/f1", "rouge/f1"),
        ("a b:c-d.e", "a b:c-d.e"),
        ("odd!name?", "odd_name_"),
        ("/x//y/./z/..", "x/y/z"),
        ("..", "_"),
        ("k" * 300, "k" * 250),
    ],
)
def test_entity_names_are_made_acceptable_to_mlflow(name: str, accepted: str) -> None:
    assert entity_name(name) == accepted


def test_keys_cannot_break_out_of_a_filter_string() -> None:
    assert check_key("workflow/0b8e:1.2_x-y") == "workflow/0b8e:1.2_x-y"
    for bad in ("", "it's", "a`b", "a b", "k" * 256):
        with pytest.raises(ValueError):
            check_key(bad)


def test_the_tracker_is_chosen_by_uri_scheme_and_opened_lazily(tmp_path: Path) -> None:
    server = open_tracker(Settings(home=tmp_path, tracking_uri="http://mlflow.internal:5000"))
    assert isinstance(server, MlflowTracker) and server.artifact_root is None
    for unsupported in ("ftp://nowhere", "postgresql://mlflow@db/mlflow"):
        with pytest.raises(ValueError, match="unsupported scheme"):
            open_tracker(Settings(home=tmp_path, tracking_uri=unsupported))
    local = open_tracker(Settings(home=tmp_path))
    assert isinstance(local, MlflowTracker) and local.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert local.artifact_root == (tmp_path / "mlartifacts").as_uri()
    assert not (tmp_path / "mlflow.db").exists()  # opened on the first operation, not at start
