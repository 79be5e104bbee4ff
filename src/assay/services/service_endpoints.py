"""Jobs whose model is a service of their project (the ``assay-service`` provider): the service
is checked when the job or workflow is created, and its address is written into the job's
document when the reconciler hands the job to the engine.

At dispatch, not at creation, because a service listens at a new address with each generation
(a restart, a crash and its replacement): an address written when a workflow was created would
be stale by the time its inference step runs. The job then calls that private address from its
worker, inside the cluster, never through the gateway and never with anybody's token. The
address comes from the server alone (the provider refuses a ``base_url`` from the request), so
the private address is reachable for this provider only, and only a service of the job's own
project: whoever may create the job (an editor) may call the service anyway (a viewer may).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from assay.errors import InvalidInputError, NotFoundError, ServiceNotRunningError, UnsupportedError
from assay.inference.config import ModelChoice
from assay.inference.providers.service import ServiceOptions, ServiceProvider
from assay.inference.registry import provider_class
from assay.jobs.run import read_document, write_json
from assay.records import DesiredState, JobRecord, ServiceStatus
from assay.records.base import utcnow
from assay.repositories.services import ServiceRepository
from assay.services.app_services import ready_addresses
from assay.storage import ObjectStore

# How long a job waits, after it was created, for its service to finish starting (a model
# loading, a restart after a crash) before it fails.
SERVICE_WAIT = dt.timedelta(minutes=10)
COMING_UP = (ServiceStatus.CREATED, ServiceStatus.STARTING)
SERVICE_FIELD = "provider_options.service"


def require_service(session: Session, project_id: str, choice: ModelChoice | None, prefix: str) -> None:
    """A model that names a service needs that service in the job's own project. Only the
    project's own services are looked up, so that another project's is never revealed: a name
    of another project gets the same 422 as a name of none."""
    if choice is None or not isinstance(choice.options, ServiceOptions):
        return
    name = choice.options.service
    service = ServiceRepository(session).get(project_id, name)
    if service is None or service.desired == DesiredState.DELETED:
        raise InvalidInputError(
            f"service {name!r} does not exist in this project", field=f"{prefix}{SERVICE_FIELD}"
        )


def _calls_a_service(job: JobRecord) -> bool:
    provider = job.config.get("provider")
    if not isinstance(provider, str):
        return False
    try:
        return issubclass(provider_class(provider), ServiceProvider)
    except UnsupportedError:
        return False


class ServiceEndpoints:
    def __init__(self, session: Session, store: ObjectStore) -> None:
        self.session = session
        self.store = store

    def bind(self, job: JobRecord) -> bool:
        """Give a job whose model is a service that service's current address (in its document,
        as the model's ``base_url``). False while the service is still coming up: the job
        stays ``created``, saying so, for up to ``SERVICE_WAIT`` after its creation.
        ``ServiceNotRunningError``, whose message is the job's failure, when the service rests,
        is gone, or did not come up in time. The caller commits."""
        if not _calls_a_service(job):
            return True
        document = read_document(self.store, job.config_key)
        assert document.model is not None, "an inference job's model is resolved when it is created"
        name = str(document.model["options"]["service"])
        try:
            addresses = ready_addresses(self.session, job.project_id, name)
        except NotFoundError:
            raise ServiceNotRunningError(
                f"service {name!r} no longer exists in this project", field=SERVICE_FIELD
            ) from None
        except ServiceNotRunningError as exc:
            self._wait(job, name, exc)
            return False
        # Jobs spread over the ready replicas, each job on one (its id decides which).
        address = addresses[job.id.int % len(addresses)]
        document.model = {**document.model, "base_url": f"{address}/v1"}
        write_json(self.store, job.config_key, document.model_dump(mode="json"))
        job.status_reason = None
        return True

    def _wait(self, job: JobRecord, name: str, refusal: ServiceNotRunningError) -> None:
        service = ServiceRepository(self.session).get(job.project_id, name)
        if service is None or service.desired != DesiredState.RUNNING or service.status not in COMING_UP:
            raise ServiceNotRunningError(
                f"{refusal.message}: start it, then run the job again", field=SERVICE_FIELD
            )
        if utcnow() - job.created_at > SERVICE_WAIT:
            minutes = SERVICE_WAIT.total_seconds() / 60
            raise ServiceNotRunningError(
                f"service {name!r} did not start within {minutes:g} minutes "
                f"({service.status_reason or service.status})",
                field=SERVICE_FIELD,
            )
        waiting = f"waiting for service {name!r} to start"
        if job.status_reason != waiting:
            job.status_reason = waiting
            self.session.commit()
