"""Makes each service's engine state match what its project asked (``ServiceRecord.desired``).

A service is one long-running Ray job per generation (``assay.jobs.serve``), submitted under
the deterministic id ``{service}-{generation}``: a submission repeated after an API restart is
the same one (the engine ignores it), so a restart neither stops nor duplicates a service.

created → starting (submitted; waiting for its address and its health check) → running;
a crash (the engine job ended while it should run) restarts it as the next generation after a
backoff, and after ``MAX_RESTARTS`` crashes in a row it is ``failed`` with the last reason.
stop/delete → stopping → stopped (a deleted service's row then goes).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

import httpx
from sqlalchemy.orm import Session

from assay.compute import ComputeRegistry, EngineStatus, EngineUnavailableError, JobSpec
from assay.config import Settings
from assay.jobs.environment import passed_env
from assay.jobs.serve import ADDRESS_MARK, SPEC_ENV
from assay.naming import engine_labels
from assay.records import DesiredState, ServiceRecord, ServiceStatus, UserRecord
from assay.records.base import utcnow
from assay.repositories.services import ServiceRepository
from assay.security.job_tokens import redact_job_tokens
from assay.services.model_services import model_command

log = logging.getLogger(__name__)
MAX_RESTARTS = 3
BACKOFF_BASE = dt.timedelta(seconds=1)
BACKOFF_CAP = dt.timedelta(seconds=60)
HEALTH_TIMEOUT = 2.0
LIVE = (EngineStatus.PENDING, EngineStatus.RUNNING)
LOG_TAIL = 2000


def backoff(restarts: int) -> dt.timedelta:
    delay: dt.timedelta = BACKOFF_BASE * 2 ** max(restarts - 1, 0)
    return min(delay, BACKOFF_CAP)


def read_address(logs: str) -> str | None:
    """The address the entrypoint announced on its first such line (never a later one, which
    the user's command could have printed)."""
    for line in logs.splitlines():
        if line.startswith(ADDRESS_MARK):
            return line[len(ADDRESS_MARK) :].strip()
    return None


class ServiceReconciler:
    def __init__(self, session: Session, clusters: ComputeRegistry, settings: Settings) -> None:
        self.session = session
        self.clusters = clusters
        self.settings = settings
        self.services = ServiceRepository(session)

    def tick(self) -> bool:
        """Advance every service that is not at rest; whether any is still moving."""
        moving = False
        for service_id in self.services.active_ids():
            service = self.services.by_id(service_id)
            if service is None:
                continue
            try:
                self._advance(service)
            except EngineUnavailableError as exc:
                self.session.rollback()
                log.warning("compute engine unavailable while advancing service %s: %s", service_id, exc)
            except Exception:
                self.session.rollback()
                log.exception("advancing service %s failed; will retry", service_id)
            moving = moving or service.status not in (ServiceStatus.RUNNING, ServiceStatus.STOPPED)
        return moving

    def _advance(self, service: ServiceRecord) -> None:
        engine = self.clusters.engine(service.ray_address)
        previous = service.config.get("previous")
        if previous:
            engine.stop(str(previous))
            service.config = {key: value for key, value in service.config.items() if key != "previous"}
            self.session.commit()
        if service.desired != DesiredState.RUNNING:
            self._stop(service)
            return
        if service.status == ServiceStatus.CREATED:
            self._submit(service)
            return
        if service.retry_at is not None and service.retry_at > utcnow():
            return
        info = engine.info(service.submission_id)
        if info is None:
            self._submit(service)  # a restart after its backoff, or a submit whose answer was lost
            return
        if info.status not in LIVE:
            self._crashed(service, f"the process ended ({info.status}): {info.message}".strip())
            return
        if service.status == ServiceStatus.STARTING and info.status == EngineStatus.RUNNING:
            self._check_health(service)

    def _submit(self, service: ServiceRecord) -> None:
        self.clusters.engine(service.ray_address).submit(self._spec(service))
        service.status = ServiceStatus.STARTING
        service.retry_at = None
        self.session.commit()

    def _check_health(self, service: ServiceRecord) -> None:
        if service.address is None:
            service.address = read_address(
                self.clusters.engine(service.ray_address).logs(service.submission_id)
            )
            if service.address is None:
                return
            self.session.commit()
        url = service.address + str(service.config.get("health_path", "/"))
        try:
            healthy = httpx.get(url, timeout=HEALTH_TIMEOUT).status_code < 400
        except httpx.HTTPError:
            healthy = False
        if healthy:
            service.status = ServiceStatus.RUNNING
            service.status_reason = None
            service.started_at = utcnow()
            self.session.commit()
            log.info("service %s/%s runs at %s", service.project_id, service.name, service.address)

    def _crashed(self, service: ServiceRecord, reason: str) -> None:
        tail = redact_job_tokens(self.clusters.engine(service.ray_address).logs(service.submission_id))
        reason = f"{reason}; last output: {tail[-LOG_TAIL:]}" if tail.strip() else reason
        service.restarts += 1
        service.address = None
        if service.restarts > MAX_RESTARTS:
            service.status = ServiceStatus.FAILED
            service.status_reason = f"crashed {service.restarts} times in a row; {reason}"
        else:
            service.generation += 1
            service.status = ServiceStatus.STARTING
            service.status_reason = f"restarting (crash {service.restarts}): {reason}"
            service.retry_at = utcnow() + backoff(service.restarts)
        self.session.commit()
        log.warning("service %s/%s: %s", service.project_id, service.name, service.status_reason)

    def _stop(self, service: ServiceRecord) -> None:
        engine = self.clusters.engine(service.ray_address)
        info = engine.info(service.submission_id)
        if info is not None and info.status in LIVE:
            engine.stop(service.submission_id)
            return
        if service.desired == DesiredState.DELETED:
            self.session.delete(service)
        else:
            service.status = ServiceStatus.STOPPED
            service.status_reason = "stopped on request"
            service.address = None
        self.session.commit()

    def _spec(self, service: ServiceRecord) -> JobSpec:
        """No credential of any kind: a service needs no job API, so it gets no claim token;
        only the allow-listed variables, and its own spec, which the entrypoint keeps from the
        user's command."""
        user = self.session.get(UserRecord, service.created_by) if service.created_by else None
        config = service.config
        python = self.clusters.engine(service.ray_address).python()
        env = passed_env(os.environ, self.settings.job_env_names)
        env["PYTHONUNBUFFERED"] = "1"
        env[SPEC_ENV] = json.dumps(
            {
                "command": model_command(config, python) if service.kind == "model" else config["command"],
                "env": config.get("env", {}),
                "env_names": list(self.settings.job_env_names),
                "sandbox_required": self.settings.auth_required,
            }
        )
        labels = engine_labels(
            self.settings.namespace,
            service.project_id,
            "service",
            service.engine_name,
            user.username if user else "",
        )
        argv = [python, "-m", "assay.jobs.serve"]
        return JobSpec(
            service.submission_id,
            argv,
            env,
            labels,
            float(config.get("num_cpus", 1.0)),
            float(config.get("num_gpus", 0.0)),
        )
