"""Typed dependencies: every route gets its session, caller, project and services from here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from assay.records import ProjectRecord, UserRecord
from assay.runtime import Runtime
from assay.services.catalog import ModelCatalog
from assay.services.comparison import ComparisonService
from assay.services.datasets import DatasetService
from assay.services.experiments import ExperimentService, WorkflowService
from assay.services.health import HealthService
from assay.services.jobs import JobService
from assay.services.projects import ProjectAccess
from assay.services.secrets import SecretService
from assay.services.users import LocalUserResolver


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(session: SessionDep, runtime: RuntimeDep) -> UserRecord:
    return LocalUserResolver(session, runtime.settings.admin_username).current()


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]


def get_default_project(
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentUser,
    x_assay_project: Annotated[str | None, Header(description="Project to act on (default: yours)")] = None,
) -> ProjectRecord:
    """For Lumigator-compatible routes: the caller's default project, or ``X-Assay-Project``."""
    return ProjectAccess(session, runtime.settings.default_project).resolve(user, x_assay_project)


def get_path_project(
    project: str, session: SessionDep, runtime: RuntimeDep, user: CurrentUser
) -> ProjectRecord:
    """For native routes: the project named in the path."""
    return ProjectAccess(session, runtime.settings.default_project).resolve(user, project)


DefaultProject = Annotated[ProjectRecord, Depends(get_default_project)]
PathProject = Annotated[ProjectRecord, Depends(get_path_project)]


def get_dataset_service(session: SessionDep, runtime: RuntimeDep) -> DatasetService:
    return DatasetService(session, runtime.store, runtime.settings, runtime.link_signer)


def get_secret_service(session: SessionDep, runtime: RuntimeDep) -> SecretService:
    return SecretService(session, runtime.secret_box)


def get_health_service(session: SessionDep, runtime: RuntimeDep) -> HealthService:
    return HealthService(session, runtime.store, runtime.settings.deployment_type)


def get_job_service(session: SessionDep, runtime: RuntimeDep) -> JobService:
    return JobService(session, runtime.store, runtime.compute, runtime.settings, runtime.link_signer)


def get_experiment_service(session: SessionDep, runtime: RuntimeDep) -> ExperimentService:
    return ExperimentService(session, runtime.store, runtime.compute)


def get_workflow_service(session: SessionDep, runtime: RuntimeDep) -> WorkflowService:
    return WorkflowService(session, runtime.store, runtime.compute)


def get_comparison_service(session: SessionDep, runtime: RuntimeDep) -> ComparisonService:
    return ComparisonService(
        session, runtime.store, ExperimentService(session, runtime.store, runtime.compute)
    )


def get_catalog(runtime: RuntimeDep) -> ModelCatalog:
    return runtime.catalog


DatasetServiceDep = Annotated[DatasetService, Depends(get_dataset_service)]
SecretServiceDep = Annotated[SecretService, Depends(get_secret_service)]
HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
JobServiceDep = Annotated[JobService, Depends(get_job_service)]
ExperimentServiceDep = Annotated[ExperimentService, Depends(get_experiment_service)]
WorkflowServiceDep = Annotated[WorkflowService, Depends(get_workflow_service)]
ComparisonServiceDep = Annotated[ComparisonService, Depends(get_comparison_service)]
CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
