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
from assay.records import DesiredState, ServiceRecord, ServiceReplicaRecord, ServiceStatus, UserRecord
from assay.repositories.files import FileRepository
from assay.repositories.projects import ProjectRepository
from assay.repositories.services import RESTING, ServiceRepository
from assay.schemas.services import AppServiceCreate, ModelServiceCreate
from assay.security.secret_box import SecretBox
from assay.services.audit import AuditTrail
from assay.services.code_policy import may_run_code
from assay.services.model_services import model_config, pin_model_file
from assay.services.service_secrets import ServiceSecrets


class ServiceManager:
    def __init__(
        self, session: Session, clusters: ComputeRegistry, settings: Settings, box: SecretBox
    ) -> None:
        self.session = session
        self.clusters = clusters
        self.settings = settings
        self.box = box
        self.services = ServiceRepository(session)
        self.secrets = ServiceSecrets(session, box)
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
        existing = self.services.get(project_id, request.name)
        if existing is not None:
            going = " and is still being deleted: try again once it has stopped"
            raise ConflictError(
                f"service {request.name!r} exists in this project"
                + (going if existing.desired == DesiredState.DELETED else ""),
                field="name",
            )
        if isinstance(request, ModelServiceCreate):
            config = model_config(request)
            pinned = pin_model_file(FileRepository(self.session), project_id, request)
            if pinned is not None:
                config["model_file"] = pinned
        else:
            self.secrets.records(project_id, request.secrets)
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
        _add_replicas(record, request.replicas)
        self.session.flush()
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
        """A resting (or stopping) service starts again as a new generation; a live one is left
        as it is (``restart`` also brings back its failed replicas)."""
        service = self.get(project_id, name)
        if service.status in RESTING or service.status == ServiceStatus.STOPPING:
            self._new_generation(service)
        service.desired = DesiredState.RUNNING
        self.audit.record(user, "start", "service", service.id, project_id=project_id)
        self.session.commit()
        return service

    def scale(self, project_id: str, name: str, user: UserRecord, replicas: int) -> ServiceRecord:
        """Ask for ``replicas`` copies. New ones start with the running service's generation
        (a resting service's stay stopped until it starts); the reconciler stops the surplus,
        highest indexes first, and removes their rows; the replicas in between are untouched."""
        service = self.get(project_id, name)
        before = service.replicas
        service.config = {**service.config, "replicas": replicas}
        _add_replicas(service, replicas)
        if service.status in RESTING:
            for row in [row for row in service.replica_rows if row.index >= replicas]:
                service.replica_rows.remove(row)  # none of a resting service's processes lives
            for row in service.replica_rows:
                if row.index >= before:
                    row.status = ServiceStatus.STOPPED
        self.audit.record(
            user, "scale", "service", service.id, project_id=project_id, replicas=[before, replicas]
        )
        self.session.commit()
        return service

    def restart(self, project_id: str, name: str, user: UserRecord) -> ServiceRecord:
        """Stop every replica and start them again as the next generation: the reconciler stops
        each replica's old engine job before it submits the new one, so exactly one runs."""
        service = self.get(project_id, name)
        self._new_generation(service)
        service.desired = DesiredState.RUNNING
        self.audit.record(user, "restart", "service", service.id, project_id=project_id)
        self.session.commit()
        return service

    def logs(self, project_id: str, name: str, replica: int | None = None) -> str:
        """What each replica's current process printed so far (the engine keeps it while it
        lives): one replica's as it is, or with several, every line prefixed ``[index] ``."""
        service = self.get(project_id, name)
        return "".join(
            _labelled(row.index, text) if prefixed else text
            for row, text, prefixed in self._outputs(service, replica)
        )

    @staticmethod
    def follow(
        sessions: Callable[[], Session],
        clusters: ComputeRegistry,
        settings: Settings,
        box: SecretBox,
        project_id: str,
        name: str,
        replica: int | None = None,
        poll: float = 1.0,
    ) -> Iterator[str]:
        """The logs, then what is added, until the service rests (``…/logs?follow=true``).
        Each pass opens its own short session (a stream outlives its request's) and reads the
        rows again: a replica's process may change under it (a restart), and then its output
        starts over. Prefixed output goes out by whole lines, so replicas never mix in one."""
        sent: dict[int, tuple[str, int]] = {}  # replica index: its engine job, characters sent
        while True:
            chunks = []
            with sessions() as session:
                manager = ServiceManager(session, clusters, settings, box)
                service = manager.services.get(project_id, name)
                if service is None or service.desired == DesiredState.DELETED:
                    return
                resting = service.status in RESTING
                for row, text, prefixed in manager._outputs(service, replica):
                    job, done = sent.get(row.index, (row.submission_id, 0))
                    done = 0 if job != row.submission_id else done
                    end = len(text) if resting or not prefixed else text.rfind("\n", done) + 1
                    if end > done:
                        fresh = text[done:end]
                        chunks.append(_labelled(row.index, fresh) if prefixed else fresh)
                    sent[row.index] = (row.submission_id, max(end, done))
            yield from chunks
            if resting:
                return
            time.sleep(poll)

    def _outputs(
        self, service: ServiceRecord, replica: int | None
    ) -> list[tuple[ServiceReplicaRecord, str, bool]]:
        """Each asked replica's output, and whether it goes out prefixed (several replicas)."""
        engine = self.clusters.engine(service.ray_address)
        prefixed = replica is None and len(service.replica_rows) > 1
        redact = self.secrets.redactor(service)
        outputs = []
        for row in _chosen(service, replica):
            text = "" if row.status == ServiceStatus.CREATED else engine.logs(row.submission_id)
            outputs.append((row, redact(text), prefixed))
        return outputs

    def replicas(self, project_id: str, name: str, replica: int | None = None) -> list[ServiceReplicaRecord]:
        """The service's replicas, or the one ``replica`` names (404 when it has no such one)."""
        return _chosen(self.get(project_id, name), replica)

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
        """The reconciler restarts each replica of an older generation, with a clean count."""
        service.generation += 1
        service.restarts = 0
        service.status = ServiceStatus.CREATED
        service.status_reason = None


def _add_replicas(service: ServiceRecord, count: int) -> None:
    """A replica for each index below ``count``, to be submitted afresh where there was none,
    or where the one there is being stopped by an earlier scale-down (the only reason a
    replica of a service asked to run is stopping)."""
    rows = {row.index: row for row in service.replica_rows}
    for index in range(count):
        row = rows.get(index)
        if row is None:
            replica = ServiceReplicaRecord(service_id=service.id, index=index)
            replica.begin(service.generation)
            service.replica_rows.append(replica)
        elif row.status == ServiceStatus.STOPPING and service.desired == DesiredState.RUNNING:
            row.begin(service.generation)


def _chosen(service: ServiceRecord, replica: int | None) -> list[ServiceReplicaRecord]:
    rows = [row for row in service.replica_rows if replica is None or row.index == replica]
    if replica is not None and not rows:
        raise NotFoundError(f"service {service.name!r} has no replica {replica}", field="replica")
    return rows


def _labelled(index: int, text: str) -> str:
    return "".join(f"[{index}] {line}" for line in text.splitlines(keepends=True))


def ready_addresses(session: Session, project_id: str, name: str) -> tuple[str, ...]:
    """Where the gateway may send a caller of the service: its ready replicas (it spreads its
    requests over them); none while the service does not run."""
    service = ServiceRepository(session).get(project_id, name)
    if service is None:
        raise NotFoundError(f"service {name!r} not found", field="name")
    addresses = tuple(
        row.address
        for row in service.replica_rows
        if row.status == ServiceStatus.RUNNING and row.address is not None
    )
    if service.status != ServiceStatus.RUNNING or not addresses:
        raise ServiceNotRunningError(f"service {name!r} is {service.status}, not running", field="name")
    return addresses
