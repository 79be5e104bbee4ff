"""What an ``app`` service may ask for: pip requirements from the package index only, secrets
and variables under names the entrypoint does not take, and secrets released to code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assay.errors import InvalidInputError
from assay.jobs.node_cache import PrivateFolderError
from assay.jobs.serve import ENVS_FOLDER, install
from assay.schemas.services import AppServiceCreate
from assay.security.destinations import check_destination, check_release_to_code, normalize_entry

COMMAND = ["python", "app.py"]


def refusal(**fields: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        AppServiceCreate.model_validate({"name": "web", "command": COMMAND, **fields})
    errors = refused.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


def test_requirements_are_pep508_from_the_index_and_kept_normalized() -> None:
    body = AppServiceCreate.model_validate(
        {
            "name": "web",
            "command": COMMAND,
            "requirements": [
                "Packaging >= 20",
                "uvicorn[standard]",
                'x; python_version > "3"',
                "w @ https://e.x/w.whl",
            ],
        }
    )
    assert body.requirements == [
        "Packaging>=20",
        "uvicorn[standard]",
        'x; python_version > "3"',
        "w @ https://e.x/w.whl",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "-r /etc/passwd",
        "--index-url=https://evil.example/simple",
        "/etc/passwd",
        "./local-package",
        "pkg @ file:///etc/passwd",
        "pkg @ http://plain.example/pkg.whl",
        "git+https://example.com/repo.git",
        "pkg @ git+https://example.com/repo.git",
        "",
    ],
)
def test_requirements_that_are_not_from_the_index_name_their_entry(bad: str) -> None:
    error = refusal(requirements=["packaging", bad])
    assert error["loc"] == ("requirements", 1)


@pytest.mark.parametrize("bad", ["ASSAY_SECRET_KEY", "assay_x", "hf-token", "PORT", "HOST", "1X", ""])
def test_secret_and_variable_names_the_entrypoint_would_lose_are_refused(bad: str) -> None:
    assert refusal(secrets=["HF_TOKEN", bad])["loc"] == ("secrets", 1)
    assert refusal(env={bad: "v"})["loc"] == ("env",)


def test_a_secret_is_named_once_and_is_not_also_a_variable() -> None:
    assert "secrets[1]" in refusal(secrets=["HF_TOKEN", "hf_token"])["msg"]
    assert "secrets[0]" in refusal(secrets=["MODE"], env={"MODE": "x"})["msg"]
    body = AppServiceCreate.model_validate(
        {"name": "web", "command": COMMAND, "secrets": ["HF_TOKEN"], "env": {"MODE": "x"}}
    )
    assert body.secrets == ["HF_TOKEN"]


def test_only_a_secret_allowed_anywhere_reaches_code() -> None:
    assert normalize_entry(" * ") == "*"
    check_release_to_code("key", ["api.openai.com", "*"], field="secrets[0]")
    for hosts in (None, [], ["api.openai.com"], ["https://gw.example.com/v1"]):
        with pytest.raises(InvalidInputError) as refused:
            check_release_to_code("key", hosts, field="secrets[2]")
        assert refused.value.field == "secrets[2]" and "'*'" in refused.value.message
    # And for jobs, '*' means what it says.
    check_destination("key", ["*"], "openai-compatible", "https://anywhere.example/v1")


def test_the_entrypoint_installs_only_into_a_private_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that others may write would let them put code in the service's environment."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"{ENVS_FOLDER}-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PrivateFolderError, match="not a private folder"):
        install("service", ["packaging"], {}, required=False)
