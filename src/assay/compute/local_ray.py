"""A Ray head on loopback that the server starts for itself in embedded mode.

Hardening, because every job driver is a child of this head:
- every listener on loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps Ray from replacing
  ``127.0.0.1`` by the machine's address; the metrics ports get free ports instead of fixed ones);
- token authentication on, with a token generated into ``ASSAY_HOME`` (0600), given to the head
  and to our clients explicitly;
- a scrubbed environment (``assay.compute.environment``), never the server's;
- a lease: ``head.lock`` (flock, held while the server lives) and ``head.json`` (pid, group,
  temp dir, ports), so a server restarted after a crash stops what the old one left before it
  starts a fresh head, and never runs two;
- optionally, another OS user (multi-user mode) that cannot read the server's files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import pwd
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from assay.compute.base import EngineUnavailableError
from assay.compute.environment import head_environment
from assay.compute.processes import MARKER, STOP_GRACE, head_processes, terminate

log = logging.getLogger(__name__)
START_TIMEOUT = 90.0
PORT_FLAGS = (
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
PORT_VARIABLES = ("AUTOSCALER_METRIC_PORT", "DASHBOARD_METRIC_PORT")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


TEMP_DIR_PREFIX = "assay-ray-"


def temp_dir_for(home: Path) -> Path:
    """One temp dir per head home, so a restarted server finds the old head; Ray puts sockets
    under it, so its path must stay short."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"{TEMP_DIR_PREFIX}{digest}"


@dataclass(frozen=True)
class HeadUser:
    """The unprivileged OS user that runs the head in multi-user mode."""

    name: str
    uid: int
    gid: int

    @classmethod
    def ensure(cls, name: str) -> HeadUser:
        """Create the system user if it does not exist yet (needs root)."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(name)
        if entry.pw_uid in (0, os.geteuid()):
            raise EngineUnavailableError(f"ASSAY_RAY_USER={name} is root or the server's own user")
        return cls(name, entry.pw_uid, entry.pw_gid)


class LocalRayHead:
    """Starts ``ray start --head --block`` in its own process group, and stops only its own
    processes (``ray stop`` would stop every Ray on the machine)."""

    def __init__(self, home: Path, num_cpus: int | None = None, user: str | None = None) -> None:
        self.home = home
        self.num_cpus = num_cpus or os.cpu_count() or 1
        self.user_name = user
        self.token_path = home / "auth_token"
        self.lease_path = home / "head.json"
        self.temp_dir = temp_dir_for(home)
        self._ports = {name: _free_port() for name in (*PORT_FLAGS, *PORT_VARIABLES)}
        self.dashboard_url = f"http://127.0.0.1:{self._ports['dashboard-port']}"
        self._process: subprocess.Popen[bytes] | None = None
        self._user: HeadUser | None = None
        self._lock_file: IO[str] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}"}

    def ensure_started(self) -> str:
        """The dashboard URL of a running head, starting one if there is none."""
        with self._lock:
            if not self.running:
                self._start()
            return self.dashboard_url

    def _token(self) -> str:
        """The cluster's token, generated on first use; only the server's user reads it."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.home.chmod(0o700)
        if not self.token_path.exists():
            fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32))
        return self.token_path.read_text().strip()

    def _take_lease(self) -> None:
        """Hold ``head.lock`` while this server lives: a second server on the same home must not
        stop this head, and the kernel releases the lock when a crashed server is gone."""
        if self._lock_file is not None:
            return
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_file = (self.home / "head.lock").open("w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock_file.close()
            raise EngineUnavailableError(
                f"another Assay server on {self.home.parent} runs the local Ray head"
            ) from exc
        self._lock_file = lock_file

    def _stop_previous(self) -> None:
        """Stop the head and job processes that a crashed server left in our temp dir."""
        previous: dict[str, object] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            previous = json.loads(self.lease_path.read_text())
        pid = previous.get("pid")
        uid = previous.get("uid")
        leftovers = head_processes(
            self.temp_dir, pid if isinstance(pid, int) else None, uid if isinstance(uid, int) else None
        )
        if leftovers:
            log.warning("stopping %d processes of a Ray head that a previous server left", len(leftovers))
            terminate(leftovers)
        self.lease_path.unlink(missing_ok=True)

    def _prepare_user(self) -> dict[str, str]:
        """In multi-user mode: the head's user owns the temp dir (its HOME and its copy of the
        token live there) and can run the interpreter; the server's home becomes 0700."""
        token_path = self.token_path
        home = Path(pwd.getpwuid(os.geteuid()).pw_dir)
        self.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.user_name is not None:
            user = self._user = HeadUser.ensure(self.user_name)
            self.home.parent.chmod(0o700)
            home = self.temp_dir / "home"
            home.mkdir(exist_ok=True)
            token_path = self.temp_dir / "auth_token"
            token_path.write_text(self._token())
            token_path.chmod(0o600)
            for folder, _, files in os.walk(self.temp_dir):
                for path in [folder, *(os.path.join(folder, name) for name in files)]:
                    os.lchown(path, user.uid, user.gid)
            self.temp_dir.chmod(0o700)
        return {"HOME": str(home), "RAY_AUTH_TOKEN_PATH": str(token_path)}

    def _environment(self, paths: dict[str, str]) -> dict[str, str]:
        ray_variables = {
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": paths["RAY_AUTH_TOKEN_PATH"],
            MARKER: str(self.temp_dir),
            **{name: str(self._ports[name]) for name in PORT_VARIABLES},
        }
        return head_environment(paths["HOME"], ray_variables)

    def _check_user_can_run(self, env: dict[str, str]) -> None:
        assert self._user is not None
        result = subprocess.run(
            [sys.executable, "-c", "import assay.jobs.run, ray.scripts.scripts"],
            env=env,
            cwd=self.temp_dir,
            user=self._user.uid,
            group=self._user.gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise EngineUnavailableError(
                f"the Ray user {self._user.name!r} cannot run {sys.executable} with Assay and Ray "
                f"({result.stderr.strip().splitlines()[-1:]}); make the interpreter and the installed "
                "packages readable by that user (scripts/prepare_ray_user.sh), or set ASSAY_RAY_ADDRESS "
                "to a separate Ray cluster"
            )

    def _start(self) -> None:
        """Start on the ports chosen at construction, so a restarted head has the same address."""
        self._take_lease()
        self._stop_previous()
        env = self._environment(self._prepare_user())
        as_user = {}
        if self._user is not None:
            self._check_user_can_run(env)
            as_user = {"user": self._user.uid, "group": self._user.gid, "extra_groups": []}
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
            f"--temp-dir={self.temp_dir}",
            *(f"--{name}={self._ports[name]}" for name in PORT_FLAGS),
        ]
        with (self.home / "ray-head.log").open("ab") as log_file:
            self._process = subprocess.Popen(  # type: ignore[call-overload]
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=self.temp_dir,
                **as_user,
            )
        self._write_lease()
        self._wait_ready()

    def _write_lease(self) -> None:
        assert self._process is not None
        lease = {
            "pid": self._process.pid,
            "process_group": self._process.pid,
            "uid": self._user.uid if self._user else None,
            "temp_dir": str(self.temp_dir),
            "ports": self._ports,
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        self.lease_path.write_text(json.dumps(lease, indent=2))

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        headers = self.auth_headers()
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._stop_processes()
                raise EngineUnavailableError(f"the local Ray head exited; see {self.home / 'ray-head.log'}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.dashboard_url}/api/jobs/", headers=headers, timeout=2)
                if response.status_code == 200:
                    return
            time.sleep(0.5)
        self._stop_processes()
        raise EngineUnavailableError("the local Ray head did not start in time")

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop the head and every process it started, job drivers included, in seconds:
        SIGTERM to all of them, SIGKILL after ``grace``."""
        with self._lock:
            self._stop_processes(grace)
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    def _stop_processes(self, grace: float = STOP_GRACE) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        terminate(head_processes(self.temp_dir, process.pid, self._user.uid if self._user else None), grace)
        with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
            process.wait(timeout=1)
        self.lease_path.unlink(missing_ok=True)
