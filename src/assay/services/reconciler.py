"""Moves jobs through their states by comparing SQL with the compute engine.

One process at a time leads (a lease row renewed every tick), so several API replicas never
submit a job twice. Statuses change only here, never because somebody read a job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import uuid

from sqlalchemy.orm import Session

from assay.compute import ComputeEngine, ComputeRegistry, EngineStatus, EngineUnavailableError, JobSpec
from assay.config import Settings
from assay.errors import ServiceNotRunningError
from assay.jobs.document import JobDocument
from assay.jobs.environment import API_URL_ENV, CLAIM_ENV, passed_env
from assay.jobs.failure import read_reason
from assay.jobs.run import read_document
from assay.naming import engine_labels
from assay.records import JobKind, JobRecord, JobStatus, UserRecord, WorkflowRecord
from assay.records.base import utcnow
from assay.repositories.experiments import WorkflowRepository
from assay.repositories.jobs import JobRepository
from assay.repositories.secrets import SecretRepository
from assay.repositories.warm_workers import POOL_RUNNER
from assay.security.job_tokens import REDACTED, redact_job_tokens
from assay.security.links import LinkSigner
from assay.security.secret_box import SecretBox
from assay.services.cleanup import ObjectCleanupService
from assay.services.datasets import GeneratedDataset, register_generated_dataset
from assay.services.job_credentials import JobCredentials
from assay.services.service_endpoints import ServiceEndpoints
from assay.services.service_reconciler import ServiceReconciler
from assay.services.warm_pool import GONE_REASON, Fallback, WarmPool, worker_logs_key
from assay.services.workflow_runner import WorkflowRunner
from assay.storage import ObjectStore, StorageError, layout

log = logging.getLogger(__name__)
SUBMIT_DEADLINE = dt.timedelta(minutes=10)
LOST_REASON = "the compute engine no longer knows this job: the Ray cluster was restarted or lost it"


class Reconciler:
    def __init__(
        self,
        session: Session,
        store: ObjectStore,
        clusters: ComputeRegistry,
        settings: Settings,
        box: SecretBox,
        signer: LinkSigner,
    ) -> None:
        self.session = session
        self.store = store
        self.clusters = clusters
        self.settings = settings
        self.box = box
        self.jobs = JobRepository(session)
        self.cleanup = ObjectCleanupService(session, store)
        self.workflows = WorkflowRunner(session, store, clusters, settings, signer)
        self.pool = WarmPool(session, clusters.default, settings)
        self.endpoints = ServiceEndpoints(session, store)
        self._pool_busy = False  # a job of this pass runs or waits in the warm pool

    def tick(self, start_worker: bool = False) -> bool:
        """Advance every active job, then every active workflow (whose steps are jobs), then
        submit the steps those workflows just created: a workflow never waits a tick between
        seeing one step finish and submitting the next; then every service. ``start_worker``:
        keep a warm worker running even with no work for it. Whether anything is still active."""
        self._advance_jobs()
        workflows = WorkflowRepository(self.session)
        for workflow_id in workflows.active_ids():
            workflow = self.session.get(WorkflowRecord, workflow_id)
            if workflow is None:
                continue
            try:
                self.workflows.advance(workflow)
            except Exception:
                self.session.rollback()
                log.exception("advancing workflow %s failed; will retry", workflow_id)
        self._advance_jobs(created_only=True)
        if self._pool_busy or start_worker:
            try:
                self.pool.keep_worker(needed=True)
            except EngineUnavailableError as exc:
                self.session.rollback()
                log.warning("the warm worker cannot be checked or started now: %s", exc)
        services_moving = ServiceReconciler(self.session, self.clusters, self.settings, self.box).tick()
        return bool(self.jobs.active_ids() or workflows.active_ids() or services_moving)

    def _advance_jobs(self, created_only: bool = False) -> None:
        unreachable: set[str | None] = set()  # clusters that failed this tick: skip their jobs
        ids = self.jobs.ids_with_status(JobStatus.CREATED) if created_only else self.jobs.active_ids()
        for job_id in ids:
            job = self.jobs.by_id(job_id)
            if job is None or job.ray_address in unreachable:
                continue
            address = job.ray_address
            try:
                self._advance(job)
            except EngineUnavailableError as exc:
                self.session.rollback()
                log.warning("compute engine unavailable while advancing job %s: %s", job_id, exc)
                unreachable.add(address)
            except Exception:
                self.session.rollback()
                log.exception("advancing job %s failed; will retry", job_id)

    def _advance(self, job: JobRecord) -> None:
        if job.status == JobStatus.CREATED:
            self._submit(job)
            return
        compute = self.clusters.engine(job.ray_address)
        pooled = job.runner == POOL_RUNNER
        if pooled:
            self._pool_busy = True
            try:
                info = self.pool.view(job)
            except Fallback:
                self.pool.fall_back(job)
                self.session.commit()
                return
        else:
            info = compute.info(str(job.id))
        if info is None:
            self._finish(
                job, JobStatus.FAILED, GONE_REASON if pooled else compute.lost_reason() or LOST_REASON
            )
            return
        if job.stop_requested and not pooled and info.status in (EngineStatus.PENDING, EngineStatus.RUNNING):
            compute.stop(str(job.id))  # a warm worker hears of the stop at its next call
        if info.status in (EngineStatus.PENDING, EngineStatus.RUNNING):
            if info.status == EngineStatus.RUNNING and job.status != JobStatus.RUNNING:
                job.status = JobStatus.RUNNING
                job.started_at = info.started_at or utcnow()
                self.session.commit()
            return
        logs = self._output(job, compute)
        job.started_at = job.started_at or info.started_at
        self._store_logs(job, logs)
        if info.status == EngineStatus.SUCCEEDED:
            try:
                self._collect(job)
            except (StorageError, KeyError, ValueError) as exc:
                self._finish(job, JobStatus.FAILED, f"the job's results cannot be read: {exc}")
                return
            self._finish(job, JobStatus.SUCCEEDED, None)
        elif info.status == EngineStatus.STOPPED:
            self._finish(job, JobStatus.STOPPED, "stopped on request")
        else:
            reason = read_reason(self.store, job.results_prefix, info.message)
            self._finish(job, JobStatus.FAILED, self._redact(job, reason))

    def stop_all(self, reason: str) -> None:
        """Record every submitted job as stopped, with its logs so far, and ask the engine to stop
        it: the server is about to take down the cluster the jobs run on. Jobs of projects bound
        to clusters of their own run on."""
        compute = self.clusters.default
        for job_id in self.jobs.active_ids():
            job = self.jobs.by_id(job_id)
            if job is None or job.status == JobStatus.CREATED or job.ray_address:
                continue
            try:
                self._store_logs(job, self._output(job, compute))
            except (EngineUnavailableError, StorageError) as exc:
                log.warning("keeping the logs of job %s on shutdown failed: %s", job.id, exc)
            self._finish(job, JobStatus.STOPPED, reason)
            with contextlib.suppress(EngineUnavailableError):
                compute.stop(str(job.id))

    def _submit(self, job: JobRecord) -> None:
        if job.stop_requested:
            self._finish(job, JobStatus.STOPPED, "stopped before it started")
            return
        try:
            if not self.endpoints.bind(job):
                return  # its model is a service that is still starting
        except ServiceNotRunningError as exc:
            self._finish(job, JobStatus.FAILED, exc.message)
            return
        if self.pool.accepts(job):
            self.pool.dispatch(job)  # its claim token is minted when a worker takes it
            self.session.commit()
            self._pool_busy = True
            return
        try:
            if not self._submitted_before(job):
                spec = self._spec(job)
                self.session.commit()  # the credential must exist before the job can claim it
                self.clusters.engine(job.ray_address).submit(spec)
        except EngineUnavailableError as exc:
            if utcnow() - job.created_at > SUBMIT_DEADLINE:
                self._finish(job, JobStatus.FAILED, f"the compute engine could not accept the job: {exc}")
                return
            raise
        job.status = JobStatus.PENDING
        job.submitted_at = utcnow()
        self.session.commit()

    def _submitted_before(self, job: JobRecord) -> bool:
        """An earlier attempt reached the engine although its answer was lost: submitting
        again would mint a claim token that the running job never sees."""
        engine = self.clusters.engine(job.ray_address)
        return JobCredentials(self.session).issued(job.id) and engine.info(str(job.id)) is not None

    def _spec(self, job: JobRecord) -> JobSpec:
        """What the engine runs: no secret in the environment, labels or arguments, only the
        allow-listed variables and a fresh claim token for this job (``job_credentials``)."""
        user = self.session.get(UserRecord, job.created_by) if job.created_by else None
        env = passed_env(os.environ, self.settings.job_env_names)
        env[API_URL_ENV] = self.settings.resolved_job_api_url
        env[CLAIM_ENV] = JobCredentials(self.session).mint(job.id)
        env["PYTHONUNBUFFERED"] = "1"
        labels = engine_labels(
            self.settings.namespace, job.project_id, job.kind, job.engine_name, user.username if user else ""
        )
        argv = [self.clusters.engine(job.ray_address).python(), "-m", "assay.jobs.run", job.config_key]
        cpus = float(job.config.get("num_cpus", self.settings.job_cpus))
        return JobSpec(str(job.id), argv, env, labels, cpus)

    def _output(self, job: JobRecord, compute: ComputeEngine) -> str:
        """What the job printed: the engine's logs, or what its warm worker left."""
        if job.runner != POOL_RUNNER:
            return compute.logs(str(job.id))
        try:
            with self.store.open_reader(worker_logs_key(job)) as reader:
                return str(reader.read().decode(errors="replace"))
        except (KeyError, StorageError):
            return ""

    def _secret(self, job: JobRecord) -> str | None:
        name = job.config.get("secret_key_name")
        if not name:
            return None
        record = SecretRepository(self.session).get(job.project_id, str(name).strip().lower())
        return self.box.open(record.ciphertext) if record else None

    def _redact(self, job: JobRecord, text: str) -> str:
        """No provider key and no job token in what is kept of a job's output."""
        secret = self._secret(job)
        text = text.replace(secret, REDACTED) if secret else text
        return redact_job_tokens(text)

    def _store_logs(self, job: JobRecord, logs: str) -> None:
        """Keep the logs after the engine forgets the job; fetched before any row changes, so
        that no write transaction waits on the engine."""
        logs = self._redact(job, logs)
        key = layout.job_logs_key(job.project_id, job.id)
        writer = self.store.open_writer(key, "text/plain; charset=utf-8")
        writer.write(logs.encode())
        writer.commit()
        job.logs_key = key

    def _collect(self, job: JobRecord) -> None:
        if job.kind == JobKind.SCRIPT:
            return
        document: JobDocument = read_document(self.store, job.config_key)
        with self.store.open_reader(document.summary_key) as reader:
            job.summary = json.loads(reader.read())
        output_key = document.output_parquet_key
        if output_key is not None and job.output_prefix is not None:
            dataset_id = uuid.UUID(job.output_prefix.rstrip("/").rsplit("/", 1)[-1])
            register_generated_dataset(
                self.session,
                self.store,
                GeneratedDataset(
                    project_id=job.project_id,
                    dataset_id=dataset_id,
                    parquet_key=output_key,
                    filename=f"{job.name}-predictions.parquet",
                    run_id=job.id,
                    generated_by=str(job.config.get("model", "")),
                ),
            )
            job.output_dataset_id = dataset_id

    def _finish(self, job: JobRecord, status: JobStatus, reason: str | None) -> None:
        job.status = status
        job.status_reason = reason
        job.finished_at = utcnow()
        JobCredentials(self.session).revoke(job.id)
        cleanup_id = None
        if status != JobStatus.SUCCEEDED and job.output_prefix:
            cleanup_id = self.cleanup.schedule(job.output_prefix)
        self.session.commit()
        if cleanup_id is not None:
            self.cleanup.run_one(cleanup_id)
        log.info("job %s %s%s", job.id, status, f": {reason}" if reason else "")
