"""What the embedded Ray head inherits, and when user code may run on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.compute.environment import ALLOWED, head_environment
from assay.compute.ray import SHARED_HEAD_REFUSAL, RayCompute
from assay.errors import EngineUnavailableError

SERVER_ENV = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
    "HF_HOME": "/models",
    "HTTPS_PROXY": "http://proxy:3128",
    "SSL_CERT_FILE": "/etc/ca.pem",
    "CUDA_VISIBLE_DEVICES": "0",
    "ASSAY_ADMIN_PASSWORD": "hunter2",
    "ASSAY_SECRET_KEY": "k",
    "ASSAY_DATABASE_URL": "postgresql://u:p@db/assay",
    "ASSAY_S3_SECRET_ACCESS_KEY": "s3",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "OPENAI_API_KEY": "sk-1",
}


def test_the_head_gets_the_allow_list_and_nothing_of_the_server() -> None:
    env = head_environment("/tmp/head-home", {"RAY_AUTH_MODE": "token"}, SERVER_ENV)
    assert env == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/tmp/head-home",
        "HF_HOME": "/models",
        "HTTPS_PROXY": "http://proxy:3128",
        "SSL_CERT_FILE": "/etc/ca.pem",
        "CUDA_VISIBLE_DEVICES": "0",
        "RAY_AUTH_MODE": "token",
    }
    assert not any(name.startswith("ASSAY_") for name in ALLOWED)


@pytest.mark.skipif(os.geteuid() != 0, reason="as root the head may run as another user")
def test_user_code_may_run_where_it_cannot_reach_the_server(tmp_path: Path) -> None:
    assert RayCompute(None, tmp_path).runs_untrusted_code_safely
    assert RayCompute(None, tmp_path, multi_user=True).runs_untrusted_code_safely
    assert RayCompute("http://cluster:8265", tmp_path, multi_user=True).code_refusal() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="only a server that is not root")
def test_multi_user_mode_refuses_user_code_on_a_head_of_the_servers_own_user(tmp_path: Path) -> None:
    assert RayCompute(None, tmp_path, multi_user=True).code_refusal() == SHARED_HEAD_REFUSAL
    assert RayCompute(None, tmp_path).runs_untrusted_code_safely


def test_an_unreadable_token_file_makes_the_cluster_unavailable_not_an_error(tmp_path: Path) -> None:
    """A head still starting has not written it yet: the reconcilers retry on their next pass
    instead of logging a traceback on each."""
    missing = tmp_path / "auth_token"
    engine = RayCompute("http://127.0.0.1:9", tmp_path, token_file=missing)
    with pytest.raises(EngineUnavailableError) as unavailable:
        engine.info("assay-job")
    assert str(missing) in str(unavailable.value) and "ASSAY_RAY_AUTH_TOKEN_FILE" in str(unavailable.value)
