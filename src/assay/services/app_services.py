"""Service use cases: record what a project asks of its services (desired state); the
reconciler (``service_reconciler``) makes the engine match. Like jobs, nothing here waits on
the engine to start or stop anything, so an API restart loses no request."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy.orm import Session

from assay.compute import ComputeRegistry
from assay.config import Settings
from assay.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceNotRunningError
from assay.naming import engine_name
from assay.records import DesiredState, ServiceRecord, ServiceStatus, UserRecord
from assay.repositories.projects import ProjectRepository
from assay.repositories.services import RESTING, ServiceRepository
from assay.schemas.services import AppServiceCreate, ModelServiceCreate
from assay.security.job_tokens import redact_job_tokens
from assay.services.audit import AuditTrail
from assay.services.code_policy import may_run_code
from assay.services.model_services import model_config


class ServiceManager:
    def __init__(self, session: Session, clusters: ComputeRegistry, settings: Settings) -> None:
        self.session = session
        self.clusters = clusters
        self.settings = settings
        self.services = ServiceRepository(session)
        self.audit = AuditTrail(session)

    def create(
        self, project_id: str, user: UserRecord, request: AppServiceCreate | ModelServiceCreate
    ) -> ServiceRecord:
        """A service runs the user's command on the cluster: the same permission as a script job.
        So does a model service: its process holds the cluster's resources for as long as it
        runs, and loads weights (and, with ``trust_remote_code``, code) that the user chose."""
        if not may_run_code(user):
            raise PermissionDeniedError(
                "services run code on the compute cluster: an administrator must grant you the "
                f"permission to run code ('assay users grant-code {user.username}')",
                field="kind",
            )
        project = ProjectRepository(self.session).get(project_id)
        address = project.ray_address if project else None
        refusal = self.clusters.engine(address).code_refusal()
        if refusal is not None:
            raise PermissionDeniedError(refusal, field="kind")
        if self.services.get(project_id, request.name) is not None:
            raise ConflictError(f"service {request.name!r} already exists in this project", field="name")
        if isinstance(request, ModelServiceCreate):
            config = model_config(request)
        else:
            config = request.model_dump(mode="json", exclude={"name", "kind"})
        record = ServiceRecord(
            id=uuid.uuid4(),
            project_id=project_id,
            name=request.name,
            kind=request.kind,
            config=config,
            engine_name=engine_name(self.settings.namespace, project_id, request.name),
            ray_address=address,
            desired=DesiredState.RUNNING,
            status=ServiceStatus.CREATED,
            generation=1,
            restarts=0,
            created_by=user.id,
        )
        self.services.add(record)
        self.audit.record(user, "create", "service", record.id, project_id=project_id, name=request.name)
        self.session.commit()
        return record

    def get(self, project_id: str, name: str) -> ServiceRecord:
        service = self.services.get(project_id, name)
        if service is None or service.desired == DesiredState.DELETED:
            raise NotFoundError(f"service {name!r} not found", field="name")
        return service

    def list_page(self, project_id: str, skip: int, limit: int) -> tuple[Sequence[ServiceRecord], int]:
        return self.services.list_page(project_id, skip, limit)

    def stop(self, project_id: str, name: str, user: UserRecord) -> ServiceRecord:
        return self._ask(project_id, name, user, DesiredState.STOPPED)

    def delete(self, project_id: str, name: str, user: UserRecord) -> None:
        """The reconciler stops the process, then removes the row; the name is free after."""
        self._ask(project_id, name, user, DesiredState.DELETED)

    def start(self, project_id: str, name: str, user: UserRecord) -> ServiceRecord:
        """A resting service starts again as a new generation; a live one is left as it is."""
        service = self.get(project_id, name)
        if service.status in RESTING:
            self._new_generation(service)
        service.desired = DesiredState.RUNNING
        self.audit.record(user, "start", "service", service.id, project_id=project_id)
        self.session.commit()
        return service

    def restart(self, project_id: str, name: str, user: UserRecord) -> ServiceRecord:
        """Stop the running generation and start the next; the reconciler stops the old one
        (``previous``) so that exactly one runs."""
        service = self.get(project_id, name)
        if service.status not in RESTING and service.status != ServiceStatus.CREATED:
            service.config = {**service.config, "previous": service.submission_id}
        self._new_generation(service)
        service.desired = DesiredState.RUNNING
        self.audit.record(user, "restart", "service", service.id, project_id=project_id)
        self.session.commit()
        return service

    def logs(self, project_id: str, name: str) -> str:
        """What the current generation printed so far (the engine keeps it while it lives)."""
        service = self.get(project_id, name)
        if service.status == ServiceStatus.CREATED:
            return ""
        engine = self.clusters.engine(service.ray_address)
        return redact_job_tokens(engine.logs(service.submission_id))

    @staticmethod
    def follow(
        sessions: Callable[[], Session],
        clusters: ComputeRegistry,
        settings: Settings,
        project_id: str,
        name: str,
        poll: float = 1.0,
    ) -> Iterator[str]:
        """The logs, then what is added, until the service rests (``…/logs?follow=true``).
        Each pass opens its own short session (a stream outlives its request's) and reads the
        row again: the generation may change under it (a restart), and then it starts over."""
        sent, generation = 0, None
        while True:
            with sessions() as session:
                manager = ServiceManager(session, clusters, settings)
                service = manager.services.get(project_id, name)
                if service is None or service.desired == DesiredState.DELETED:
                    return
                if service.generation != generation:
                    generation, sent = service.generation, 0
                text = manager.logs(project_id, name)
                resting = service.status in RESTING
            if len(text) > sent:
                yield text[sent:]
                sent = len(text)
            if resting:
                return
            time.sleep(poll)

    def _ask(self, project_id: str, name: str, user: UserRecord, desired: DesiredState) -> ServiceRecord:
        service = self.get(project_id, name)
        service.desired = desired
        if service.status not in RESTING:
            service.status = ServiceStatus.STOPPING
        self.audit.record(user, str(desired), "service", service.id, project_id=project_id)
        self.session.commit()
        return service

    @staticmethod
    def _new_generation(service: ServiceRecord) -> None:
        service.generation += 1
        service.restarts = 0
        service.status = ServiceStatus.CREATED
        service.status_reason = None
        service.address = None
        service.retry_at = None


def running_address(session: Session, project_id: str, name: str) -> str:
    """Where the gateway sends a caller of the service: only a running one has an address."""
    service = ServiceRepository(session).get(project_id, name)
    if service is None:
        raise NotFoundError(f"service {name!r} not found", field="name")
    if service.status != ServiceStatus.RUNNING or service.address is None:
        raise ServiceNotRunningError(f"service {name!r} is {service.status}, not running", field="name")
    return service.address
