"""Built-in jobs in warm processes, so a workflow's steps do not each pay for a cold engine job.

An engine job and a fresh interpreter cost seconds per job (Ray starts a supervisor actor, then
Python imports Assay, pyarrow and the metric libraries); a built-in step works for less than a
second. So the reconciler keeps one **warm worker** on the default cluster: a long-lived engine
job (``python -m assay.jobs.pool``) that has imported all of that once and runs each built-in job
(inference, annotation, evaluation) in a process forked for it. Script jobs (user code) never run
there: they stay engine jobs of their own, in the sandbox.

The credential boundary does not move. The worker's own token (in its runtime environment, as a
claim token is, and hashed in ``warm_workers``) lets it take work at the job API and nothing else:
taking a job mints that job's claim token, and the forked process trades it for the job's
session exactly as an engine job does, then reads and writes only through the job API.

State is in SQL, so a restart of the API, ``kill -9`` or a restart of Ray ends jobs correctly:
the job row says it runs in the pool (``runner``), which worker took it (``worker_id``), when that
worker last said it runs (``worker_seen_at``) and how it ended (``worker_result``). A worker that
the engine no longer knows, or that stays silent, takes its jobs with it (they fail as lost); a
job that no worker takes in time becomes an engine job of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from assay.compute import ComputeEngine, EngineJob, EngineStatus, EngineUnavailableError, JobSpec
from assay.config import Settings
from assay.errors import AuthenticationError
from assay.jobs.environment import API_URL_ENV, WORKER_ENV, passed_env
from assay.naming import engine_labels
from assay.records import JobKind, JobRecord, JobStatus, WarmWorkerRecord
from assay.records.base import utcnow
from assay.repositories.warm_workers import ENGINE_RUNNER, POOL_RUNNER, WarmWorkerRepository
from assay.security.job_tokens import WORKER_PREFIX, new_worker_token
from assay.security.tokens import token_hash
from assay.services.job_credentials import JobCredentials
from assay.storage import ObjectStore, layout

log = logging.getLogger(__name__)
BUILT_IN = (str(JobKind.INFERENCE), str(JobKind.ANNOTATE), str(JobKind.EVALUATION))
# A worker that said nothing for this long is gone; a job no worker took in this long (a worker
# that cannot start) runs as an engine job of its own.
SILENCE = dt.timedelta(seconds=30)
UNTAKEN = dt.timedelta(seconds=60)
GONE_REASON = (
    "the warm worker that ran this job is gone: the Ray cluster was restarted, or the worker "
    "stopped answering"
)
INVALID = "the warm worker's token is invalid, or the worker was retired"
TAKE_POLL = 0.05


def worker_logs_key(job: JobRecord) -> str:
    """Where a worker leaves a job's output, until the reconciler keeps it (redacted)."""
    return layout.worker_output_key(job.project_id, job.id)


class Fallback(Exception):
    """No worker took the job in time: it goes back to be submitted as an engine job."""


class WarmPool:
    """The reconciler's side: keep a worker running, hand it jobs, read how they are doing."""

    def __init__(self, session: Session, engine: ComputeEngine, settings: Settings) -> None:
        self.session = session
        self.engine = engine
        self.settings = settings
        self.workers = WarmWorkerRepository(session)

    def accepts(self, job: JobRecord) -> bool:
        return self.settings.warm_pool and job.runner is None and job.kind in BUILT_IN and not job.ray_address

    def dispatch(self, job: JobRecord) -> None:
        """Hand the job to the pool: a worker takes it at its next call (the caller commits)."""
        job.runner = POOL_RUNNER
        job.status = JobStatus.PENDING
        job.submitted_at = utcnow()

    def keep_worker(self, needed: bool) -> None:
        """Forget workers the engine no longer runs; start one when there is none and work
        needs one. Starting the local head for nothing is avoided: no work, no worker."""
        alive = False
        for worker in self.workers.all():
            info = self.engine.info(worker.id)
            if info is None or info.status not in (EngineStatus.PENDING, EngineStatus.RUNNING):
                log.warning("warm worker %s ended (%s)", worker.id, info.message if info else "unknown")
                self.workers.delete(worker)
                self.session.commit()
            else:
                alive = True
        if needed and not alive:
            self._start_worker()

    def _start_worker(self) -> None:
        token = new_worker_token()
        worker = WarmWorkerRecord(id=f"{self.settings.namespace}-warm-{uuid.uuid4().hex[:12]}")
        worker.token_hash = token_hash(token)
        self.workers.add(worker)
        self.session.commit()
        env = passed_env(os.environ, self.settings.job_env_names)
        env.update(
            {API_URL_ENV: self.settings.resolved_job_api_url, WORKER_ENV: token, "PYTHONUNBUFFERED": "1"}
        )
        argv = [self.engine.python(), "-m", "assay.jobs.pool", "--slots", str(self.settings.warm_pool_slots)]
        labels = engine_labels(self.settings.namespace, "", "warm-worker", worker.id, "")
        try:
            # No CPUs reserved: an idle worker costs nothing, and its jobs are Assay's own steps.
            self.engine.submit(JobSpec(worker.id, argv, env, labels, num_cpus=0))
        except EngineUnavailableError:
            self.workers.delete(worker)
            self.session.commit()
            raise
        log.info("warm worker %s started", worker.id)

    def view(self, job: JobRecord) -> EngineJob | None:
        """The job as the engine would report it, from its row; ``None`` when its worker is gone.
        Raises ``Fallback`` when no worker took it in time."""
        result = job.worker_result
        if result is not None:
            return EngineJob(EngineStatus(result["status"]), str(result.get("message", "")))
        now = utcnow()
        if job.worker_id is None:
            if job.stop_requested:
                return EngineJob(EngineStatus.STOPPED, "stopped before a worker took it")
            if job.submitted_at is not None and now - job.submitted_at > UNTAKEN:
                raise Fallback
            return EngineJob(EngineStatus.PENDING)
        worker = self.session.get(WarmWorkerRecord, job.worker_id)
        if worker is None or job.worker_seen_at is None or now - job.worker_seen_at > SILENCE:
            return None
        return EngineJob(EngineStatus.RUNNING, started_at=job.started_at or job.worker_seen_at)

    def fall_back(self, job: JobRecord) -> None:
        log.warning("no warm worker took job %s in time; it runs as an engine job of its own", job.id)
        job.runner = ENGINE_RUNNER
        job.status = JobStatus.CREATED


@dataclass(frozen=True)
class Taken:
    job_id: uuid.UUID
    claim_token: str
    config_key: str


class WorkerDesk:
    """The job API's side: what a warm worker may do with its token."""

    def __init__(self, session: Session, store: ObjectStore) -> None:
        self.session = session
        self.store = store
        self.workers = WarmWorkerRepository(session)

    def authenticate(self, token: str) -> WarmWorkerRecord:
        worker = self.workers.by_token(token_hash(token)) if token.startswith(WORKER_PREFIX) else None
        if worker is None:
            raise AuthenticationError(INVALID)
        return worker

    def take(self, worker: WarmWorkerRecord, wait: float) -> Taken | None:
        """The oldest waiting built-in job with a fresh claim token for it, waiting up to
        ``wait`` seconds for one (a long poll: a job handed to the pool starts at once)."""
        worker_id = worker.id
        worker.seen_at = utcnow()
        self.session.commit()
        deadline = time.monotonic() + wait
        while True:
            for job_id in self.workers.waiting_ids(BUILT_IN):
                if self.workers.take(job_id, worker_id, utcnow()):
                    job = self.session.get(JobRecord, job_id)
                    assert job is not None
                    claim = JobCredentials(self.session).mint(job_id)
                    self.session.commit()
                    return Taken(job_id, claim, job.config_key)
            self.session.rollback()  # end the read transaction: the next look sees new rows
            if time.monotonic() >= deadline:
                return None
            time.sleep(TAKE_POLL)

    def beat(self, worker: WarmWorkerRecord, job_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Note that the worker runs these jobs; the ones it must stop (asked to, or already
        ended here, e.g. declared lost)."""
        now = utcnow()
        worker.seen_at = now
        stop = []
        for job in self.workers.jobs_of(worker.id, job_ids):
            job.worker_seen_at = now
            if job.stop_requested or JobStatus(job.status).finished:
                stop.append(job.id)
        self.session.commit()
        return stop

    def finished(
        self, worker: WarmWorkerRecord, job_id: uuid.UUID, status: EngineStatus, message: str, output: str
    ) -> None:
        """Record how the job ended and what it printed; the first report wins (the job's own
        process reports, then the worker when it reaps it)."""
        jobs = self.workers.jobs_of(worker.id, [job_id])
        if not jobs or jobs[0].worker_result is not None:
            return
        job = jobs[0]
        writer = self.store.open_writer(worker_logs_key(job), "text/plain; charset=utf-8")
        writer.write(output.encode())
        writer.commit()
        worker.seen_at = utcnow()
        if job.stop_requested and status != EngineStatus.SUCCEEDED:
            status, message = EngineStatus.STOPPED, "stopped on request"
        job.worker_result = {"status": str(status), "message": message}
        self.session.commit()
