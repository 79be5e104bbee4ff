"""``python -m assay.jobs.pool --slots N``: a warm worker for built-in jobs (``services.warm_pool``).

It imports what built-in jobs need once, then asks the job API for work with its worker token
(a long poll). For each job it takes it forks a process that runs the job as ``assay.jobs.run``
would (claiming the job's own credential, reading and writing only through the job API), with
its output in a file of its own; the process reports its end and output itself, and the worker
reports again when it reaps it (for a process that died). While jobs run, the worker tells the
API so every second, and kills those the answer says to stop.

The worker token lives only in this process's memory (it is removed from the environment at
start), and the forked processes run Assay's own code only: ``run.main(warm=True)`` refuses a
script job.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx

from assay.jobs import run
from assay.jobs.environment import API_URL_ENV, CLAIM_ENV, WORKER_ENV

log = logging.getLogger("assay.pool")
WARM_MODULES = (
    "assay.jobs.inference",
    "assay.jobs.evaluation",
    "assay.inference.providers.mock",
    "assay.inference.providers.openai",
    "assay.metrics.rouge",
    "assay.metrics.bleu",
    "assay.metrics.meteor",
    "assay.metrics.chrf",
    "assay.metrics.ter",
    "assay.metrics.length",
    "assay.metrics.qa",
    "pyarrow.parquet",
)
WAIT_IDLE = 10.0
WAIT_BUSY = 1.0
STOP_GRACE = 5.0
GIVE_UP = 60.0  # seconds without reaching the job API before the worker ends itself


@dataclass
class Child:
    job_id: str
    pid: int
    output: Path
    stop_sent_at: float | None = None
    killed: bool = False


class Worker:
    def __init__(self, url: str, token: str, slots: int) -> None:
        self.client = httpx.Client(
            base_url=f"{url.rstrip('/')}/api/v1/job/worker/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(WAIT_IDLE + 30, connect=10),
        )
        self.slots = slots
        self.children: dict[int, Child] = {}
        self.folder = Path(tempfile.mkdtemp(prefix="assay-warm-"))

    def serve(self) -> int:
        """Import what built-in jobs need, module by module, taking work in between: the job
        the worker was started for, and the step after it, do not wait for the whole warm-up."""
        for name in WARM_MODULES:
            if len(self.children) < self.slots:
                self._take(0)
            self._reap()
            _preload(name)
        log.info("warm worker ready (%d slots)", self.slots)
        unreachable_since: float | None = None
        while True:
            try:
                if len(self.children) < self.slots:
                    self._take(WAIT_BUSY if self.children else WAIT_IDLE)
                else:
                    time.sleep(0.2)
                self._reap()
                if self.children:
                    self._beat()
                unreachable_since = None
            except (httpx.HTTPStatusError, httpx.TransportError) as exc:
                status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                if status == 401:
                    log.info("the job API retired this worker; ending")
                    self._stop_all()
                    return 0
                if status is not None and status < 500:
                    raise
                unreachable_since = self._wait_for_api(unreachable_since, exc)
                if unreachable_since is None:
                    return 1

    def _wait_for_api(self, since: float | None, exc: Exception) -> float | None:
        """When the API first failed, or ``None`` when it has failed for too long (the worker
        then kills its jobs' processes and ends)."""
        since = since or time.monotonic()
        if time.monotonic() - since > GIVE_UP:
            log.error("the job API failed for %.0f s (%s); ending", GIVE_UP, exc)
            self._stop_all()
            return None
        time.sleep(1)
        self._reap()
        return since

    def _take(self, wait: float) -> None:
        response = self.client.post("take", params={"wait": wait})
        response.raise_for_status()
        if response.status_code == 204:
            return
        taken = response.json()
        output = self.folder / f"{taken['job_id']}.log"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(self.client, taken, output)
        self.children[pid] = Child(taken["job_id"], pid, output)
        log.info("job %s runs in process %d", taken["job_id"], pid)

    def _beat(self) -> None:
        by_job = {child.job_id: child for child in self.children.values()}
        response = self.client.post("beat", json={"job_ids": list(by_job)})
        response.raise_for_status()
        for job_id in response.json()["stop"]:
            child = by_job.get(job_id)
            if child is not None and child.stop_sent_at is None:
                child.stop_sent_at = time.monotonic()
                _signal(child.pid, signal.SIGTERM)
        for child in self.children.values():
            if child.stop_sent_at and not child.killed and time.monotonic() - child.stop_sent_at > STOP_GRACE:
                child.killed = True
                _signal(child.pid, signal.SIGKILL)

    def _reap(self) -> None:
        for pid, child in list(self.children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            del self.children[pid]
            code = os.waitstatus_to_exitcode(status)
            if child.stop_sent_at is not None:
                outcome = {"status": "stopped", "message": "stopped on request"}
            elif code == 0:
                outcome = {"status": "succeeded", "message": ""}
            else:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                outcome = {"status": "failed", "message": f"the job's process {how}"}
            _report(self.client, child.job_id, outcome, child.output)
            child.output.unlink(missing_ok=True)

    def _stop_all(self) -> None:
        for child in self.children.values():
            _signal(child.pid, signal.SIGKILL)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, number)


def _report(client: httpx.Client, job_id: str, outcome: dict[str, str], output: Path) -> None:
    text = output.read_text(errors="replace") if output.exists() else ""
    response = client.post("finished", json={"job_id": job_id, **outcome, "output": text})
    response.raise_for_status()


def _run_child(parent_client: httpx.Client, taken: dict[str, Any], output: Path) -> NoReturn:
    """The forked process: the job's own output file, the job's own claim token, then the job
    exactly as ``assay.jobs.run`` runs it; it reports its end at once, without waiting to be
    reaped."""
    code = 1
    try:
        os.setpgid(0, 0)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.environ[CLAIM_ENV] = str(taken["claim_token"])
        code = run.main([str(taken["config_key"])], warm=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        # The parent's connection pool is not ours to share: a client of its own, same token.
        with httpx.Client(
            base_url=parent_client.base_url, headers=parent_client.headers, timeout=60
        ) as client:
            outcome = (
                {"status": "succeeded", "message": ""}
                if code == 0
                else {
                    "status": "failed",
                    "message": f"the job's process exited with code {code}",
                }
            )
            _report(client, str(taken["job_id"]), outcome, output)
    finally:
        os._exit(code)


def _preload(name: str) -> None:
    """Import once what every built-in job would import again: the point of a warm worker."""
    try:
        importlib.import_module(name)
    except Exception as exc:  # an optional extra that is not installed
        log.info("not preloaded: %s (%s)", name, exc)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m assay.jobs.pool")
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args(argv)
    token = os.environ.pop(WORKER_ENV, "")
    url = os.environ.get(API_URL_ENV, "")
    if not token or not url:
        print(f"{WORKER_ENV} and {API_URL_ENV} must be set", file=sys.stderr)
        return 2
    return Worker(url, token, args.slots).serve()


if __name__ == "__main__":
    sys.exit(main())
