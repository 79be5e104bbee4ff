"""The pure parts of the compute boundary: the environment allow-list, a job's key scope,
token scrubbing and the job API URL."""

from __future__ import annotations

import pytest

from assay.config import Settings
from assay.errors import PermissionDeniedError
from assay.jobs.environment import passed_env, script_env
from assay.security.job_tokens import new_claim_token, new_session_token, redact_job_tokens
from assay.services.job_scope import JobScope

SERVER_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/assay",
    "HF_HOME": "/models",
    "https_proxy": "http://proxy:3128",
    "EXTRA_TOOL": "yes",
    "ASSAY_ADMIN_PASSWORD": "pw",
    "ASSAY_S3_SECRET_ACCESS_KEY": "s3",
    "ASSAY_JOB_CLAIM_TOKEN": "claim",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "RAY_ADDRESS": "ray",
}


def test_only_allow_listed_names_pass_and_never_a_server_setting() -> None:
    assert passed_env(SERVER_ENV, ()) == {"HF_HOME": "/models", "https_proxy": "http://proxy:3128"}
    extra = passed_env(SERVER_ENV, ("EXTRA_TOOL", "ASSAY_ADMIN_PASSWORD", "assay_s3_secret_access_key"))
    assert extra == {"HF_HOME": "/models", "https_proxy": "http://proxy:3128", "EXTRA_TOOL": "yes"}


def test_a_script_environment_starts_clean() -> None:
    env = script_env(SERVER_ENV, ("EXTRA_TOOL",), {"OWN": "1", "PATH": "/opt/bin"})
    assert env == {
        "PATH": "/opt/bin",
        "HOME": "/home/assay",
        "HF_HOME": "/models",
        "https_proxy": "http://proxy:3128",
        "EXTRA_TOOL": "yes",
        "OWN": "1",
    }


SCOPE = JobScope(
    frozenset({"projects/p/jobs/j/config.json", "projects/p/datasets/d/dataset.parquet"}),
    ("projects/p/jobs/j/results/", "projects/p/inference-cache/"),
)


@pytest.mark.parametrize(
    "key",
    [
        "projects/p/jobs/j/results/../config.json",
        "projects/p/jobs/j/results/../../k/results/summary.json",
        "projects/p/jobs/j/results//x",
        "/projects/p/jobs/j/results/x",
        "projects/p/jobs/j/results/./x",
        "projects/p/jobs/j/results",
        "projects/p/jobs/j/resultsx/y",
        "projects/q/inference-cache/x",
        "projects/p/datasets/d/other.parquet",
        "projects/p/jobs/j/results/a\\..\\b",
    ],
)
def test_keys_outside_the_scope_are_refused(key: str) -> None:
    with pytest.raises(PermissionDeniedError):
        SCOPE.require_read(key)
    with pytest.raises(PermissionDeniedError):
        SCOPE.require_write(key)


def test_inputs_are_read_only_and_outputs_read_write() -> None:
    SCOPE.require_read("projects/p/jobs/j/config.json")
    SCOPE.require_read("projects/p/datasets/d/dataset.parquet")
    SCOPE.require_write("projects/p/jobs/j/results/summary.json")
    SCOPE.require_prefix("projects/p/inference-cache/ns/")
    with pytest.raises(PermissionDeniedError):
        SCOPE.require_write("projects/p/jobs/j/config.json")
    for prefix in ("projects/p/", "projects/p/jobs/j/results", "projects/p/jobs/j/results/../"):
        with pytest.raises(PermissionDeniedError):
            SCOPE.require_prefix(prefix)


def test_job_tokens_are_scrubbed_from_text() -> None:
    claim, session = new_claim_token(), new_session_token()
    text = f"env ASSAY_JOB_CLAIM_TOKEN={claim}\nAuthorization: Bearer {session}\n"
    scrubbed = redact_job_tokens(text)
    assert claim not in scrubbed and session not in scrubbed
    assert scrubbed.count("<REDACTED>") == 2


@pytest.mark.parametrize(
    ("host", "explicit", "url"),
    [
        ("127.0.0.1", None, "http://127.0.0.1:8000"),
        ("0.0.0.0", None, "http://127.0.0.1:8000"),
        ("::1", None, "http://[::1]:8000"),
        ("10.0.0.5", None, "http://10.0.0.5:8000"),
        ("0.0.0.0", "https://assay.example/", "https://assay.example"),
    ],
)
def test_job_api_url(host: str, explicit: str | None, url: str) -> None:
    assert Settings(host=host, port=8000, job_api_url=explicit).resolved_job_api_url == url
