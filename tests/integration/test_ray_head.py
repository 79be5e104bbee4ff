"""The embedded Ray head of a real ``assay serve``: loopback only, token auth, its jobs stopped
with the server, what a crashed server left stopped by the next one, and in multi-user mode
user code running as another OS user that cannot read the server's files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from assay.background import SHUTDOWN_REASON
from assay.compute.local_ray import temp_dir_for
from assay.compute.processes import head_processes
from assay.compute.ray import LOCAL_LOST_REASON
from tests.openai_server import OpenAIServer
from tests.servers import ManagedProcess, SeaweedS3, clean_env, free_port, serve_command

pytestmark = pytest.mark.slow
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
ADMIN_PASSWORD = "admin-password-for-ray-head-tests"
VICTIM_KEY = "sk-victim-provider-key-0123456789"


class Server:
    """``assay serve`` in a process of its own, on ``home``, in embedded mode."""

    def __init__(self, home: Path, **settings: str) -> None:
        self.home = home
        self.settings = settings
        self.server: ManagedProcess | None = None
        self.url = ""
        self.token: str | None = None

    @property
    def head_temp_dir(self) -> Path:
        return temp_dir_for(self.home / "ray")

    def start(self) -> Server:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = clean_env(ASSAY_HOME=str(self.home), ASSAY_RECONCILE_INTERVAL_SECONDS="0.3", **self.settings)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[2] / "src"), *sys.path]))
        log = self.home.parent / f"{self.home.name}-server.log"
        self.server = ManagedProcess(
            serve_command(port, log_level=None), log, env=env, stop_signal=signal.SIGINT, grace_s=30
        )
        self.server.start(
            lambda: httpx.get(f"{self.url}/api/v1/health/", timeout=2).status_code == 200, 120, "assay serve"
        )
        self._sign_in()
        return self

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process if self.server else None

    def _sign_in(self) -> None:
        """With credentials required: an API token of the admin, once per home."""
        if "ASSAY_ADMIN_PASSWORD" not in self.settings or self.token is not None:
            return
        with httpx.Client(base_url=self.url, timeout=30) as client:
            login = {"username": "admin", "password": ADMIN_PASSWORD}
            assert client.post("/api/v1/auth/login", json=login).status_code == 200
            self.token = client.post("/api/v1/users/me/tokens", json={"name": "tests"}).json()["token"]

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def script_job(self, argv: list[str]) -> str:
        with self.client() as client:
            body = {"name": "sleeper", "job_config": {"job_type": "script", "argv": argv}}
            response = client.post("/api/v1/jobs/script", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        with self.client() as client:
            job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
            return job

    def wait_for(self, job_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["status"] not in statuses:
            assert time.monotonic() < deadline, f"job still {job['status']}"
            time.sleep(0.3)
        return job

    def logs(self, job_id: str) -> str:
        with self.client() as client:
            return str(client.get(f"/api/v1/jobs/{job_id}/logs").json()["logs"])

    def processes(self) -> list[psutil.Process]:
        assert self.process is not None
        server = psutil.Process(self.process.pid)
        return [server, *server.children(recursive=True)]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()
        psutil.wait_procs(head_processes(server.head_temp_dir), timeout=0)
        for leftover in head_processes(server.head_temp_dir):
            leftover.kill()


def sleeper(tag: str) -> list[str]:
    return [sys.executable, "-c", f"import time; print('{tag} working', flush=True); time.sleep(600)"]


def processes_with(tag: str) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["cmdline"], ad_value=None)
        if any(tag in part for part in proc.info["cmdline"] or []) and proc.pid != os.getpid()
    ]


def listeners(proc: psutil.Process) -> list[tuple[str, Any]]:
    """The process's listening TCP sockets; none for a process that just ended (``sleep 1``)."""
    try:
        connections = proc.net_connections("inet")
        return [(proc.name(), conn.laddr) for conn in connections if conn.status == psutil.CONN_LISTEN]
    except psutil.NoSuchProcess:
        return []


def wait_until(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)


def test_the_head_listens_on_loopback_only_and_wants_its_token(servers: list[Server], tmp_path: Path) -> None:
    server = Server(tmp_path / "home").start()
    servers.append(server)
    token_file = server.home / "ray" / "auth_token"
    logs = probe(server, token_file, server.head_temp_dir / "session_latest" / "logs" / "raylet.out")
    assert "READ" not in logs and f"denied {token_file} FileNotFoundError" in logs
    assert processes_seen(logs) < 5
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert (server.home / "ray").stat().st_mode & 0o777 == 0o700
    lease = json.loads((server.home / "ray" / "head.json").read_text())
    dashboard = f"http://127.0.0.1:{lease['ports']['dashboard-port']}/api/jobs/"
    assert httpx.get(dashboard).status_code == 401
    assert httpx.get(dashboard, headers={"Authorization": "Bearer wrong"}).status_code == 403
    headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
    assert httpx.get(dashboard, headers=headers).status_code == 200

    job_id = server.script_job(sleeper("loopback-job"))
    server.wait_for(job_id, {"running"})
    wait_until(lambda: "loopback-job working" in server.logs(job_id))
    processes = server.processes()
    assert any("loopback-job" in " ".join(proc.cmdline()) for proc in processes)
    listening = [entry for proc in processes for entry in listeners(proc)]
    assert len(listening) >= 8
    assert [entry for entry in listening if entry[1].ip not in LOOPBACK] == []


def test_a_restart_after_kill_9_stops_what_the_old_server_left(servers: list[Server], tmp_path: Path) -> None:
    first = Server(tmp_path / "home").start()
    servers.append(first)
    job_id = first.script_job(sleeper("crash-job"))
    first.wait_for(job_id, {"running"})
    wait_until(lambda: len(processes_with("crash-job working")) > 0)
    orphans = processes_with("crash-job working") + head_processes(first.head_temp_dir)
    assert first.server is not None
    first.server.kill()
    assert all(proc.is_running() for proc in processes_with("crash-job working"))

    second = Server(tmp_path / "home").start()
    servers.append(second)
    finished = second.wait_for(job_id, {"failed", "stopped", "succeeded"})
    assert finished["status"] == "failed"
    assert finished["message"] == LOCAL_LOST_REASON
    psutil.wait_procs(orphans, timeout=10)
    assert [proc for proc in orphans if proc.is_running()] == []
    assert processes_with("crash-job working") == []
    heads = [proc for proc in head_processes(second.head_temp_dir) if proc.name() == "gcs_server"]
    assert len(heads) == 1


def test_ctrl_c_stops_running_jobs_and_the_head_within_seconds(servers: list[Server], tmp_path: Path) -> None:
    server = Server(tmp_path / "home").start()
    servers.append(server)
    job_id = server.script_job(sleeper("sigint-job"))
    server.wait_for(job_id, {"running"})
    wait_until(lambda: len(processes_with("sigint-job working")) > 0)
    assert server.process is not None

    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    server.process.wait(timeout=30)
    assert time.monotonic() - started < 10
    assert processes_with("sigint-job working") == []
    assert head_processes(server.head_temp_dir) == []

    server.start()
    stopped = server.job(job_id)
    assert stopped["status"] == "stopped"
    assert stopped["message"] == SHUTDOWN_REASON
    assert "sigint-job working" in server.logs(job_id)


PROBE = """
import getpass, os, sys
print("uid", os.getuid(), getpass.getuser())
for path in sys.argv[1:]:
    try:
        open(path, "rb").read()
        print("READ", path)
    except OSError as exc:
        print("denied", path, type(exc).__name__)
print("processes seen:", len([name for name in os.listdir("/proc") if name.isdigit()]))
print("admin password in env:", "ASSAY_ADMIN_PASSWORD" in os.environ)
print("assay variables:", sorted(name for name in os.environ if name.startswith("ASSAY_")))
"""


def probe(server: Server, *paths: Path | str) -> str:
    """Run ``PROBE`` as a script job of ``server`` and return its logs."""
    job_id = server.script_job([sys.executable, "-c", PROBE, *map(str, paths)])
    # The first job starts the head as the Ray user, which can take minutes on a loaded machine.
    finished = server.wait_for(job_id, {"succeeded", "failed", "stopped"}, timeout=360)
    logs = server.logs(job_id)
    assert finished["status"] == "succeeded", logs
    return logs


def processes_seen(logs: str) -> int:
    return int(logs.split("processes seen: ")[1].split()[0])


FINISHED = {"succeeded", "failed", "stopped"}


def wait_for_job(client: httpx.Client, path: str, statuses: set[str], timeout: float = 180) -> dict[str, Any]:
    """The job at ``path`` (a native route: any project) once its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while (job := client.get(path).json())["status"] not in statuses:
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    return job


def multi_user_server(servers: list[Server], home: Path, seaweed: SeaweedS3, bucket: str) -> Server:
    """``assay serve`` as root with credentials required, on S3 storage: the production shape."""
    server = Server(
        home,
        ASSAY_AUTH="required",
        ASSAY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ASSAY_STORAGE_URL=f"s3://{bucket}",
        ASSAY_S3_ENDPOINT_URL=seaweed.endpoint_url,
        ASSAY_S3_ACCESS_KEY_ID=seaweed.access_key,
        ASSAY_S3_SECRET_ACCESS_KEY=seaweed.secret_key,
    ).start()
    servers.append(server)
    return server


@pytest.mark.skipif(os.geteuid() != 0, reason="multi-user mode starts the head as another user (root only)")
def test_multi_user_mode_runs_jobs_as_the_ray_user(
    servers: list[Server], tmp_path: Path, seaweed: SeaweedS3
) -> None:
    home = tmp_path / "home"
    server = multi_user_server(servers, home, seaweed, seaweed.create_bucket())
    assert server.process is not None
    private = [home / "secret.key", home / "assay.db", home / "ray" / "auth_token"]
    head_token = server.head_temp_dir / "auth_token"
    logs = probe(server, *private, f"/proc/{server.process.pid}/environ", head_token)
    uid = psutil.Process().uids().real
    assert "uid " in logs and f"uid {uid} " not in logs and "assay-ray" in logs
    assert "READ" not in logs
    for path in private:
        # Unreadable to the Ray user (PermissionError); under /tmp, also out of the sandbox's sight.
        assert f"denied {path} " in logs, logs
    assert f"denied {head_token} FileNotFoundError" in logs
    assert processes_seen(logs) < 5
    assert "admin password in env: False" in logs
    assert home.stat().st_mode & 0o777 == 0o700


HOSTILE_PROBE = r"""
import glob, json, os, sys, urllib.request, urllib.error
home, server_pid, dashboard, s3_bucket_url, job_api = sys.argv[1:6]

def attempt(what, action):
    try:
        result = action()
        print("GOT", what, repr(result)[:2000])
    except urllib.error.HTTPError as exc:
        print("refused", what, exc.code)
    except (OSError, ValueError) as exc:
        print("denied", what, type(exc).__name__)

def read(path):
    with open(path, "rb") as file:
        return file.read()

def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()

print("environment:", json.dumps(dict(os.environ)))
own = ("secret.key", "assay.db", "ray/auth_token")
for path in (*(f"{home}/{name}" for name in own), f"/proc/{server_pid}/environ"):
    attempt(path, lambda path=path: read(path))
attempt("objects folder", lambda: os.listdir(f"{home}/objects"))
tokens = glob.glob("/tmp/**/auth_token", recursive=True) + glob.glob(os.path.expanduser("~/.ray/auth_token"))
print("token files:", tokens)
for path in tokens:
    attempt(path, lambda path=path: read(path))
print("ray sessions:", glob.glob("/tmp/assay-ray-*/session_*"), glob.glob("/tmp/ray/session_*"))
print("processes seen:", sum(pid.isdigit() for pid in os.listdir("/proc")))
attempt("dashboard job list", lambda: get(f"{dashboard}/api/jobs/"))
attempt("object store listing", lambda: get(f"{s3_bucket_url}?list-type=2"))
attempt("job api listing", lambda: get(f"{job_api}/api/v1/job/objects?prefix=projects/"))
print("probe done")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="multi-user mode starts the head as another user (root only)")
def test_a_hostile_tenant_with_the_run_code_permission_gets_nothing(
    servers: list[Server], tmp_path: Path, seaweed: SeaweedS3
) -> None:
    """A user an admin allowed to run code, owner of a project of their own, submits a script
    that goes after the server's environment and files, the Ray token, the dashboard's job list
    (other jobs' runtime environments), other processes, the object store and the job API,
    while another project's inference job runs with a provider key. It gets none of them; a
    user without the permission cannot even submit it."""
    home = tmp_path / "home"
    bucket = seaweed.create_bucket()
    server = multi_user_server(servers, home, seaweed, bucket)
    provider = OpenAIServer(latency_s=1.0).start()
    try:
        with server.client() as admin:
            for name in ("mallory", "eve"):
                user = {"username": name, "password": f"{name}-password-123"}
                assert admin.post("/api/v1/users", json=user).status_code == 201
            assert admin.patch("/api/v1/users/mallory", json={"can_run_code": True}).status_code == 200
            tokens = {
                name: admin.post(f"/api/v1/users/{name}/tokens", json={"name": "t"}).json()["token"]
                for name in ("mallory", "eve")
            }
            assert admin.post("/api/v1/projects", json={"name": "victim"}).status_code == 201
            secret = {"value": VICTIM_KEY, "description": "provider", "allowed_hosts": ["127.0.0.1"]}
            assert admin.put("/api/v1/projects/victim/secrets/victim_key", json=secret).status_code in (
                200,
                201,
            )
            rows = "examples,ground_truth\n" + "".join(f"question {i},answer {i}\n" for i in range(20))
            dataset = admin.post(
                "/api/v1/projects/victim/datasets", files={"dataset": ("victim.csv", rows.encode())}
            )
            assert dataset.status_code == 201, dataset.text
            victim_job = admin.post(
                "/api/v1/projects/victim/jobs/inference",
                json={
                    "name": "victim-inference",
                    "dataset": dataset.json()["id"],
                    "job_config": {
                        "job_type": "inference",
                        "provider": "openai-compatible",
                        "model": "m",
                        "base_url": provider.base_url,
                        "secret_key_name": "victim_key",
                        "max_concurrency": 1,
                    },
                },
            )
            assert victim_job.status_code == 201, victim_job.text
            victim = f"/api/v1/projects/victim/jobs/{victim_job.json()['id']}"
            wait_for_job(admin, victim, {"running"}, timeout=360)  # the first job starts the head

        def as_user(name: str) -> httpx.Client:
            return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens[name]}"})

        with as_user("eve") as eve:
            assert eve.post("/api/v1/projects", json={"name": "eve lab"}).status_code == 201
            refused = eve.post(
                "/api/v1/projects/eve-lab/jobs/script",
                json={"name": "x", "job_config": {"job_type": "script", "argv": ["true"]}},
            )
            assert refused.status_code == 403, refused.text
        lease = json.loads((home / "ray" / "head.json").read_text())
        assert server.process is not None
        argv = [
            sys.executable,
            "-c",
            HOSTILE_PROBE,
            str(home),
            str(server.process.pid),
            f"http://127.0.0.1:{lease['ports']['dashboard-port']}",
            f"{seaweed.endpoint_url}/{bucket}",
            server.url,
        ]
        with as_user("mallory") as mallory:
            assert mallory.post("/api/v1/projects", json={"name": "mallory lab"}).status_code == 201
            created = mallory.post(
                "/api/v1/projects/mallory-lab/jobs/script",
                json={"name": "probe", "job_config": {"job_type": "script", "argv": argv}},
            )
            assert created.status_code == 201, created.text
            probe_id = created.json()["id"]
            job = wait_for_job(mallory, f"/api/v1/projects/mallory-lab/jobs/{probe_id}", FINISHED)
            logs = mallory.get(f"/api/v1/projects/mallory-lab/jobs/{probe_id}/logs").json()["logs"]
        assert job["status"] == "succeeded", logs
        assert "probe done" in logs
        secrets = {
            "admin password": ADMIN_PASSWORD,
            "victim's provider key": VICTIM_KEY,
            "S3 secret key": seaweed.secret_key,
            "master key": (home / "secret.key").read_text().strip(),
            "Ray token": (home / "ray" / "auth_token").read_text().strip(),
        }
        leaked = [what for what, value in secrets.items() if value and value in logs]
        assert leaked == [], logs
        assert "GOT" not in logs, logs
        for path in ("secret.key", "assay.db", "ray/auth_token"):
            # Unreadable to the Ray user; here, under /tmp, even out of the sandbox's sight.
            assert f"denied {home}/{path} " in logs, logs
        assert int(logs.split("processes seen: ", 1)[1].split()[0]) <= 3, logs  # its sandbox alone
        assert "token files: []" in logs, logs
        assert "refused dashboard job list 401" in logs, logs
        assert "refused object store listing 403" in logs, logs
        assert "refused job api listing 401" in logs, logs
        environment = json.loads(logs.split("environment: ", 1)[1].splitlines()[0])
        assert [name for name in environment if name.startswith(("ASSAY_", "RAY_AUTH"))] == []
    finally:
        provider.stop()
