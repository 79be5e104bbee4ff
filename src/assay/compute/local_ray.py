"""A Ray head on loopback that the server starts for itself in embedded mode."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from assay.compute.base import EngineUnavailableError

START_TIMEOUT = 90.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalRayHead:
    """Starts ``ray start --head --block`` in its own process group, and stops only that group
    (``ray stop`` would stop every Ray on the machine)."""

    def __init__(self, home: Path, num_cpus: int | None = None) -> None:
        self.home = home
        self.num_cpus = num_cpus or os.cpu_count() or 1
        self._ports = {
            name: _free_port()
            for name in (
                "dashboard-port",
                "port",
                "ray-client-server-port",
                "dashboard-agent-listen-port",
                "dashboard-agent-grpc-port",
                "runtime-env-agent-port",
                "metrics-export-port",
                "node-manager-port",
                "object-manager-port",
            )
        }
        self.dashboard_url = f"http://127.0.0.1:{self._ports['dashboard-port']}"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_started(self) -> str:
        """The dashboard URL of a running head, starting one if there is none."""
        with self._lock:
            if not self.running:
                self._start()
            return self.dashboard_url

    def _temp_dir(self) -> Path:
        """Ray puts sockets under its temp dir, whose path must stay short."""
        digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:10]
        return Path("/tmp") / f"assay-ray-{digest}"

    def _start(self) -> None:
        """Start on the ports chosen at construction, so a restarted head has the same address."""
        # The module, not the `ray` script beside the interpreter: an environment that sees
        # Ray through a path entry (a seeded or system-site venv) has no such script.
        command = [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            f"--num-cpus={self.num_cpus}",
            "--disable-usage-stats",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--temp-dir={self._temp_dir()}",
            *(f"--{name}={port}" for name, port in self._ports.items()),
        ]
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "ray-head.log").open("ab")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self._process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EngineUnavailableError(f"the local Ray head exited; see {self.home / 'ray-head.log'}")
            try:
                if httpx.get(f"{self.dashboard_url}/api/version", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise EngineUnavailableError("the local Ray head did not start in time")

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            if process is None:
                return
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
            self._kill_leftovers(process.pid)

    @staticmethod
    def _kill_leftovers(group: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
