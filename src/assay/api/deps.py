"""Typed dependencies: every route gets its session, caller, project and services from here."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.orm import Session

from assay.api.credentials import read_bearer, read_credentials
from assay.api.public_url import public_base_url
from assay.records import JobRecord, ProjectRecord, Role, UserRecord, WarmWorkerRecord
from assay.runtime import Runtime
from assay.services.app_services import ServiceManager
from assay.services.audit import AuditTrail
from assay.services.auth import Authenticator
from assay.services.catalog import ModelCatalog
from assay.services.comparison import ComparisonService
from assay.services.datasets import DatasetService
from assay.services.experiments import ExperimentService, WorkflowService
from assay.services.files import FileService
from assay.services.health import HealthService
from assay.services.job_access import JobAccess
from assay.services.job_credentials import JobCredentials
from assay.services.jobs import JobService
from assay.services.links import DownloadLinks
from assay.services.projects import ProjectAccess, ProjectService
from assay.services.secrets import SecretService
from assay.services.service_secrets import MODEL_LINK_TTL_SECONDS, ServiceSecrets
from assay.services.users import UserService, require_admin
from assay.services.warm_pool import WorkerDesk


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(request: Request, session: SessionDep, runtime: RuntimeDep) -> UserRecord:
    """The caller, from their token, HTTP Basic credentials or session cookie (401 when they
    are wrong, or missing where the server requires them)."""
    return Authenticator(session, runtime.settings).authenticate(read_credentials(request))


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> UserRecord:
    require_admin(user)
    return user


AdminUser = Annotated[UserRecord, Depends(get_admin)]


def get_project_access(session: SessionDep, runtime: RuntimeDep) -> ProjectAccess:
    return ProjectAccess(session, runtime.settings.default_project)


ProjectAccessDep = Annotated[ProjectAccess, Depends(get_project_access)]
ProjectResolver = Callable[[Role], Callable[..., ProjectRecord]]


@functools.cache
def default_project(role: Role) -> Callable[..., ProjectRecord]:
    """For Lumigator-compatible routes: the caller's default project, or ``X-Assay-Project``,
    if the caller holds ``role`` in it. One function per role, so FastAPI runs it once."""

    def resolve_default_project(
        user: CurrentUser,
        access: ProjectAccessDep,
        x_assay_project: Annotated[
            str | None, Header(description="Project to act on (default: the caller's default project)")
        ] = None,
    ) -> ProjectRecord:
        return access.resolve(user, x_assay_project, role)

    return resolve_default_project


@functools.cache
def path_project(role: Role) -> Callable[..., ProjectRecord]:
    """For native routes: the project named in the path, if the caller holds ``role`` in it."""

    def resolve_path_project(
        project: Annotated[str, Path(description="Project id (slug)")],
        user: CurrentUser,
        access: ProjectAccessDep,
    ) -> ProjectRecord:
        return access.require(user, project, role)

    return resolve_path_project


get_default_project = default_project(Role.VIEWER)
get_path_project = path_project(Role.VIEWER)
DefaultProject = Annotated[ProjectRecord, Depends(get_default_project)]
PathProject = Annotated[ProjectRecord, Depends(get_path_project)]
EditorProject = Annotated[ProjectRecord, Depends(path_project(Role.EDITOR))]
OwnerProject = Annotated[ProjectRecord, Depends(path_project(Role.OWNER))]


def get_dataset_service(session: SessionDep, runtime: RuntimeDep) -> DatasetService:
    return DatasetService(session, runtime.store, runtime.settings, runtime.link_signer)


def get_secret_service(session: SessionDep, runtime: RuntimeDep) -> SecretService:
    return SecretService(session, runtime.secret_box)


def get_health_service(session: SessionDep, runtime: RuntimeDep) -> HealthService:
    return HealthService(session, runtime.store, runtime.settings.deployment_type)


def get_job_service(session: SessionDep, runtime: RuntimeDep) -> JobService:
    return JobService(session, runtime.store, runtime.clusters, runtime.settings, runtime.link_signer)


def get_service_manager(session: SessionDep, runtime: RuntimeDep) -> ServiceManager:
    return ServiceManager(session, runtime.clusters, runtime.settings, runtime.secret_box)


def get_service_secrets(session: SessionDep, runtime: RuntimeDep) -> ServiceSecrets:
    return ServiceSecrets(session, runtime.secret_box)


def get_experiment_service(session: SessionDep, runtime: RuntimeDep) -> ExperimentService:
    return ExperimentService(session, runtime.store, runtime.clusters)


def get_workflow_service(session: SessionDep, runtime: RuntimeDep) -> WorkflowService:
    return WorkflowService(session, runtime.store, runtime.clusters)


def get_comparison_service(session: SessionDep, runtime: RuntimeDep) -> ComparisonService:
    return ComparisonService(
        session, runtime.store, ExperimentService(session, runtime.store, runtime.clusters)
    )


def get_authenticator(session: SessionDep, runtime: RuntimeDep) -> Authenticator:
    return Authenticator(session, runtime.settings)


def get_user_service(session: SessionDep, runtime: RuntimeDep) -> UserService:
    return UserService(session, runtime.settings)


def get_project_service(session: SessionDep, runtime: RuntimeDep) -> ProjectService:
    return ProjectService(session, runtime.store, runtime.settings)


def get_file_service(session: SessionDep, runtime: RuntimeDep) -> FileService:
    return FileService(session, runtime.store, runtime.settings)


def get_audit_trail(session: SessionDep) -> AuditTrail:
    return AuditTrail(session)


def get_job_credentials(session: SessionDep) -> JobCredentials:
    return JobCredentials(session)


def get_job_access(session: SessionDep, runtime: RuntimeDep) -> JobAccess:
    return JobAccess(session, runtime.store, runtime.secret_box)


def get_current_job(
    request: Request, credentials: Annotated[JobCredentials, Depends(get_job_credentials)]
) -> JobRecord:
    """The job whose session token the request carries (401 otherwise, always: a job API
    call never acts as the local admin)."""
    return credentials.authenticate(read_bearer(request))


def get_worker_desk(session: SessionDep, runtime: RuntimeDep) -> WorkerDesk:
    return WorkerDesk(session, runtime.store)


def get_current_worker(
    request: Request, desk: Annotated[WorkerDesk, Depends(get_worker_desk)]
) -> WarmWorkerRecord:
    """The warm worker whose token the request carries (401 otherwise)."""
    return desk.authenticate(read_bearer(request))


def get_catalog(runtime: RuntimeDep) -> ModelCatalog:
    return runtime.catalog


def get_worker_links(runtime: RuntimeDep) -> DownloadLinks:
    """Links that a job's process follows: at the address where workers reach the server."""
    return DownloadLinks(
        runtime.store, runtime.link_signer, MODEL_LINK_TTL_SECONDS, runtime.settings.resolved_job_api_url
    )


def get_download_links(request: Request, runtime: RuntimeDep) -> DownloadLinks:
    settings = runtime.settings
    return DownloadLinks(
        runtime.store,
        runtime.link_signer,
        settings.download_link_ttl_seconds,
        public_base_url(request, settings),
    )


DatasetServiceDep = Annotated[DatasetService, Depends(get_dataset_service)]
SecretServiceDep = Annotated[SecretService, Depends(get_secret_service)]
HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
JobServiceDep = Annotated[JobService, Depends(get_job_service)]
ServiceManagerDep = Annotated[ServiceManager, Depends(get_service_manager)]
ServiceSecretsDep = Annotated[ServiceSecrets, Depends(get_service_secrets)]
ExperimentServiceDep = Annotated[ExperimentService, Depends(get_experiment_service)]
WorkflowServiceDep = Annotated[WorkflowService, Depends(get_workflow_service)]
ComparisonServiceDep = Annotated[ComparisonService, Depends(get_comparison_service)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]
FileServiceDep = Annotated[FileService, Depends(get_file_service)]
AuditTrailDep = Annotated[AuditTrail, Depends(get_audit_trail)]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
JobCredentialsDep = Annotated[JobCredentials, Depends(get_job_credentials)]
JobAccessDep = Annotated[JobAccess, Depends(get_job_access)]
CurrentJob = Annotated[JobRecord, Depends(get_current_job)]
WorkerDeskDep = Annotated[WorkerDesk, Depends(get_worker_desk)]
CurrentWorker = Annotated[WarmWorkerRecord, Depends(get_current_worker)]
DownloadLinksDep = Annotated[DownloadLinks, Depends(get_download_links)]
WorkerLinksDep = Annotated[DownloadLinks, Depends(get_worker_links)]
