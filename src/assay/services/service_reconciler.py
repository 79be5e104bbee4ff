"""Makes each service's engine state match what its project asked (``ServiceRecord.desired``).

Each replica of a service is one long-running Ray job (``assay.jobs.serve``), submitted under
the id its row names before the engine is asked (``{service}-{generation}-{index}-{attempt}``):
a submission repeated after an API restart is the same one (the engine ignores it), so a
restart neither stops nor duplicates a replica.

A replica goes created → starting (submitted; waiting for its address and its health check) →
running, and is checked every ``service_health_interval_seconds`` while it runs. A crash (its
engine job ended while it should run, or ``service_health_failures`` failed checks in a row,
after which its job is stopped) restarts that replica alone as its next attempt after a
backoff; after ``MAX_RESTARTS`` crashes in a row it is ``failed`` and stays down. A replica
that ran ``STEADY`` without a crash starts counting from zero again.

The service is running while at least one replica is, failed when every replica is failed,
starting otherwise; stop/delete → stopping → stopped (a deleted service's rows then go).
``start``/``restart`` raise the service's generation: each replica of an older one is stopped
and begun afresh.
A setup that failed before the command ran (its requirements did not install, a secret was
refused) fails its replica at once: another attempt would fail the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy.orm import Session

from assay.compute import ComputeEngine, ComputeRegistry, EngineStatus, EngineUnavailableError, JobSpec
from assay.config import Settings
from assay.jobs.environment import API_URL_ENV, SERVICE_CLAIM_ENV, passed_env
from assay.jobs.serve import ADDRESS_MARK, SETUP_FAILED_MARK, SPEC_ENV
from assay.naming import engine_labels
from assay.records import DesiredState, ServiceRecord, ServiceReplicaRecord, ServiceStatus, UserRecord
from assay.records.base import utcnow
from assay.repositories.services import ServiceRepository
from assay.security.secret_box import SecretBox
from assay.services.model_services import model_command
from assay.services.service_secrets import ServiceSecrets

log = logging.getLogger(__name__)
MAX_RESTARTS = 3
BACKOFF_BASE = dt.timedelta(seconds=1)
BACKOFF_CAP = dt.timedelta(seconds=60)
STEADY = dt.timedelta(minutes=10)
LIVE = (EngineStatus.PENDING, EngineStatus.RUNNING)
LOG_TAIL = 2000
Probe = tuple[ServiceRecord, ServiceReplicaRecord, str]


def backoff(restarts: int) -> dt.timedelta:
    delay: dt.timedelta = BACKOFF_BASE * 2 ** max(restarts - 1, 0)
    return min(delay, BACKOFF_CAP)


def read_mark(logs: str, mark: str) -> str | None:
    """What follows ``mark`` on its first line. The entrypoint announces its address on its
    first line: a later one, which the user's command could have printed, is never read."""
    for line in logs.splitlines():
        if line.startswith(mark):
            return line[len(mark) :].strip()
    return None


def read_address(logs: str) -> str | None:
    return read_mark(logs, ADDRESS_MARK)


def check_health(urls: Sequence[str], timeout: float) -> list[str | None]:
    """GET every URL at once, each given ``timeout`` seconds in all: what failed, in order
    (``None``: it answered below 400). A pass of the reconciler waits at most ``timeout`` for
    its health checks, however many services are slow."""

    async def one(client: httpx.AsyncClient, url: str) -> str | None:
        try:
            async with asyncio.timeout(timeout), client.stream("GET", url) as response:
                status = response.status_code
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except (httpx.HTTPError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None if status < 400 else f"it answered {status}"

    async def every() -> list[str | None]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            return list(await asyncio.gather(*(one(client, url) for url in urls)))

    return asyncio.run(every()) if urls else []


class ServiceReconciler:
    def __init__(
        self, session: Session, clusters: ComputeRegistry, settings: Settings, box: SecretBox
    ) -> None:
        self.session = session
        self.clusters = clusters
        self.settings = settings
        self.services = ServiceRepository(session)
        self.secrets = ServiceSecrets(session, box)

    def tick(self) -> bool:
        """Advance every service that is not at rest, then check the health of the replicas
        that are due, all at once; whether any replica is still moving (neither running nor
        failed)."""
        moving = False
        running: list[ServiceRecord] = []
        probes: list[Probe] = []
        for service_id in self.services.active_ids():
            service = self.services.by_id(service_id)
            if service is None:
                continue
            try:
                if service.desired == DesiredState.RUNNING:
                    probes += self._advance(service)
                    running.append(service)
                else:
                    moving = self._stop(service) or moving
            except Exception as exc:
                self._log_failure(service_id, exc)
        errors = check_health([url for _, _, url in probes], self.settings.service_health_timeout_seconds)
        for (service, replica, _), error in zip(probes, errors, strict=True):
            try:
                self._judge(service, replica, error)
            except Exception as exc:
                self._log_failure(service.id, exc)
        settled = (ServiceStatus.RUNNING, ServiceStatus.FAILED)
        return moving or any(row.status not in settled for service in running for row in service.replica_rows)

    def _log_failure(self, service_id: uuid.UUID, exc: Exception) -> None:
        self.session.rollback()
        if isinstance(exc, EngineUnavailableError):
            log.warning("compute engine unavailable while advancing service %s: %s", service_id, exc)
        else:
            log.error("advancing service %s failed; will retry", service_id, exc_info=exc)

    def _advance(self, service: ServiceRecord) -> list[Probe]:
        """Move each replica one step; the replicas whose health is to be checked now."""
        engine = self.clusters.engine(service.ray_address)
        probes = []
        for replica in list(service.replica_rows):
            if replica.index >= service.replicas:
                self._retire(service, replica, engine)
                continue
            url = self._advance_replica(service, replica, engine)
            if url is not None:
                probes.append((service, replica, url))
        return probes

    def _advance_replica(
        self, service: ServiceRecord, replica: ServiceReplicaRecord, engine: ComputeEngine
    ) -> str | None:
        if replica.generation != service.generation:  # a start or restart asked through the API
            engine.stop(replica.submission_id)
            replica.begin(service.generation)
            self._save(service)
        if replica.status == ServiceStatus.FAILED:
            return None
        if replica.status == ServiceStatus.CREATED:
            self._submit(service, replica, engine)
            return None
        now = utcnow()
        if replica.retry_at is not None and replica.retry_at > now:
            return None
        info = engine.info(replica.submission_id)
        if info is None:
            self._submit(service, replica, engine)  # after its backoff, or a submit whose answer was lost
            return None
        if info.status not in LIVE:
            self._crashed(
                service, replica, engine, f"the process ended ({info.status}): {info.message}".strip()
            )
            return None
        if info.status != EngineStatus.RUNNING:
            return None
        if replica.status == ServiceStatus.STARTING and replica.address is None:
            replica.address = read_address(engine.logs(replica.submission_id))
            if replica.address is None:
                return None
            self._save(service)
        url = f"{replica.address}{service.config.get('health_path', '/')}"
        if replica.status == ServiceStatus.STARTING:
            return url
        if replica.status != ServiceStatus.RUNNING:
            return None
        if replica.restarts and replica.started_at is not None and now - replica.started_at >= STEADY:
            replica.restarts = 0
            self._save(service)
        interval = dt.timedelta(seconds=self.settings.service_health_interval_seconds)
        return url if replica.checked_at is None or replica.checked_at + interval <= now else None

    def _retire(self, service: ServiceRecord, replica: ServiceReplicaRecord, engine: ComputeEngine) -> None:
        """A replica past the number asked (a scale-down): stopped, then its row goes. It takes
        no request meanwhile (only running replicas do)."""
        info = engine.info(replica.submission_id)
        if info is not None and info.status in LIVE:
            engine.stop(replica.submission_id)
            if replica.status != ServiceStatus.STOPPING:
                replica.status = ServiceStatus.STOPPING
                replica.status_reason = "scaled down"
                replica.address = None
                self._save(service)
            return
        service.replica_rows.remove(replica)
        self._save(service)

    def _submit(self, service: ServiceRecord, replica: ServiceReplicaRecord, engine: ComputeEngine) -> None:
        spec = self._spec(service, replica.submission_id)
        self.session.commit()  # its claim token must exist before the process can claim it
        engine.submit(spec)
        replica.status = ServiceStatus.STARTING
        replica.retry_at = None
        self._save(service)

    def _judge(self, service: ServiceRecord, replica: ServiceReplicaRecord, error: str | None) -> None:
        """A starting replica runs once its health check passes (until then the reason says
        why not); a running one that fails ``service_health_failures`` checks in a row has
        crashed, though its process may still live."""
        now = utcnow()
        if replica.status == ServiceStatus.STARTING:
            if error is None:
                replica.status = ServiceStatus.RUNNING
                replica.status_reason = None
                replica.started_at = replica.checked_at = now
                replica.health_failures = 0
                log.info("service %s/%s: replica %d runs", service.project_id, service.name, replica.index)
            else:
                replica.status_reason = f"waiting for the health check: {error}"
            self._save(service)
            return
        replica.checked_at = now
        replica.health_failures = 0 if error is None else replica.health_failures + 1
        if replica.health_failures >= self.settings.service_health_failures:
            engine = self.clusters.engine(service.ray_address)
            reason = f"health check failed {replica.health_failures} times: {error}"
            self._crashed(service, replica, engine, reason, live=True)
            return
        self._save(service)

    def _crashed(
        self,
        service: ServiceRecord,
        replica: ServiceReplicaRecord,
        engine: ComputeEngine,
        reason: str,
        live: bool = False,
    ) -> None:
        """Restart the replica alone after a backoff, or, after too many crashes in a row, leave
        it failed. ``live``: its process still runs (it stopped answering) and is stopped."""
        logs = self.secrets.redactor(service)(engine.logs(replica.submission_id))
        reason = f"{reason}; last output: {logs[-LOG_TAIL:]}" if logs.strip() else reason
        setup = read_mark(logs, SETUP_FAILED_MARK)
        if live:
            engine.stop(replica.submission_id)
        replica.restarts += 1
        replica.address = None
        replica.started_at = replica.checked_at = None
        replica.health_failures = 0
        if setup is not None:
            replica.status = ServiceStatus.FAILED
            replica.status_reason = f"{setup}; {reason}"
        elif replica.restarts > MAX_RESTARTS:
            replica.status = ServiceStatus.FAILED
            replica.status_reason = f"crashed {replica.restarts} times in a row; {reason}"
        else:
            replica.assign(replica.generation, replica.attempt + 1)
            replica.status = ServiceStatus.STARTING
            replica.status_reason = f"restarting (crash {replica.restarts}): {reason}"
            replica.retry_at = utcnow() + backoff(replica.restarts)
        self._save(service)
        log.warning(
            "service %s/%s replica %d: %s",
            service.project_id,
            service.name,
            replica.index,
            replica.status_reason,
        )

    def _save(self, service: ServiceRecord) -> None:
        """Commit a replica's change with the service's summary, so that no reader ever sees
        one without the other."""
        self._summarize(service)
        self.session.commit()

    def _summarize(self, service: ServiceRecord) -> None:
        """The service's status from its replicas': running while one runs. Replicas being
        removed by a scale-down do not count."""
        rows = [row for row in service.replica_rows if row.index < service.replicas]
        if any(row.status == ServiceStatus.RUNNING for row in rows):
            status = ServiceStatus.RUNNING
        elif all(row.status == ServiceStatus.FAILED for row in rows):
            status = ServiceStatus.FAILED
        else:
            status = ServiceStatus.STARTING
        if status == ServiceStatus.RUNNING and service.status != ServiceStatus.RUNNING:
            service.started_at = utcnow()
            log.info("service %s/%s runs", service.project_id, service.name)
        service.status = status
        service.restarts = sum(row.restarts for row in rows)
        reasons = [(row.index, row.status_reason) for row in rows if row.status_reason]
        if len(rows) == 1:
            service.status_reason = reasons[0][1] if reasons else None
        else:
            service.status_reason = (
                "; ".join(f"replica {index}: {reason}" for index, reason in reasons) or None
            )
        self.session.commit()

    def _stop(self, service: ServiceRecord) -> bool:
        """Stop every replica's process; once none lives, the service is stopped (or its rows
        go). Whether one still lives."""
        engine = self.clusters.engine(service.ray_address)
        live = False
        for replica in service.replica_rows:
            info = engine.info(replica.submission_id)
            if info is not None and info.status in LIVE:
                engine.stop(replica.submission_id)
                replica.status = ServiceStatus.STOPPING
                live = True
            else:
                replica.status = ServiceStatus.STOPPED
                replica.status_reason = None
                replica.address = None
        if not live:
            if service.desired == DesiredState.DELETED:
                self.session.delete(service)
            else:
                service.status = ServiceStatus.STOPPED
                service.status_reason = "stopped on request"
        self.session.commit()
        return live

    def _spec(self, service: ServiceRecord, submission_id: str) -> JobSpec:
        """Only the allow-listed variables, the service's own spec, and, when it names
        secrets or its model is a project file, a claim token for them (``service_secrets``),
        never their values nor a link to the file; the entrypoint keeps all of it from the
        user's command."""
        user = self.session.get(UserRecord, service.created_by) if service.created_by else None
        config = service.config
        python = self.clusters.engine(service.ray_address).python()
        env = passed_env(os.environ, self.settings.job_env_names)
        env["PYTHONUNBUFFERED"] = "1"
        env[SPEC_ENV] = json.dumps(
            {
                "id": str(service.id),
                "command": model_command(config, python) if service.kind == "model" else config["command"],
                "env": config.get("env", {}),
                "requirements": config.get("requirements", []),
                "secrets": config.get("secrets", []),
                "model_file": config.get("model_file"),
                "env_names": list(self.settings.job_env_names),
                "sandbox_required": self.settings.auth_required,
            }
        )
        if config.get("secrets") or config.get("model_file"):
            env[API_URL_ENV] = self.settings.resolved_job_api_url
            env[SERVICE_CLAIM_ENV] = self.secrets.mint(service, submission_id)
        labels = engine_labels(
            self.settings.namespace,
            service.project_id,
            "service",
            service.engine_name,
            user.username if user else "",
        )
        argv = [python, "-m", "assay.jobs.serve"]
        return JobSpec(
            submission_id,
            argv,
            env,
            labels,
            float(config.get("num_cpus", 1.0)),
            float(config.get("num_gpus", 0.0)),
        )
