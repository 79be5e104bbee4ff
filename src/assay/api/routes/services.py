"""Service routes (``/projects/{project}/services``): viewers read, editors manage; creating
one also needs the permission to run code. The gateway to a service is ``assay.api.gateway``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from assay.api.bodies import json_body_doc, lenient_json
from assay.api.deps import CurrentUser, RuntimeDep, ServiceManagerDep, path_project
from assay.api.paging import Limit, Skip
from assay.records import ProjectRecord, Role, ServiceRecord
from assay.schemas.services import (
    MAX_REPLICAS,
    ReplicaStatusResponse,
    ServiceCreate,
    ServiceLogsResponse,
    ServiceResponse,
    ServiceScale,
    ServiceStatusResponse,
)
from assay.services.app_services import ServiceManager

router = APIRouter()
viewer = Depends(path_project(Role.VIEWER))
editor = Depends(path_project(Role.EDITOR))
read_body = Depends(lenient_json(ServiceCreate))
read_scale = Depends(lenient_json(ServiceScale))
API = "/api/v1"


def to_response(service: ServiceRecord) -> ServiceResponse:
    return ServiceResponse.model_validate(
        {
            **{
                column: getattr(service, column)
                for column in ServiceResponse.model_fields
                if column != "proxy_path"
            },
            "proxy_path": f"{API}/projects/{service.project_id}/services/{service.name}/proxy/",
        }
    )


@router.post("", status_code=201, response_model=ServiceResponse, openapi_extra=json_body_doc(ServiceCreate))
def create_service(
    user: CurrentUser,
    manager: ServiceManagerDep,
    project: ProjectRecord = editor,
    body: ServiceCreate = read_body,
) -> ServiceResponse:
    """Record a service of kind ``app`` (a command) or ``model`` (an OpenAI-compatible
    server over a model); the reconciler starts it and watches it (``status``)."""
    return to_response(manager.create(project.id, user, body.root))


@router.get("")
def list_services(
    manager: ServiceManagerDep, skip: Skip = 0, limit: Limit = 100, project: ProjectRecord = viewer
) -> dict[str, Any]:
    items, total = manager.list_page(project.id, skip, limit)
    return {"total": total, "items": [to_response(item) for item in items]}


@router.get("/{name}", response_model=ServiceResponse)
def get_service(name: str, manager: ServiceManagerDep, project: ProjectRecord = viewer) -> ServiceResponse:
    return to_response(manager.get(project.id, name))


@router.get("/{name}/status", response_model=ServiceStatusResponse)
def get_service_status(
    name: str, manager: ServiceManagerDep, project: ProjectRecord = viewer
) -> ServiceStatusResponse:
    service = manager.get(project.id, name)
    replicas = [
        ReplicaStatusResponse.model_validate(row, from_attributes=True) for row in service.replica_rows
    ]
    return ServiceStatusResponse.model_validate(
        {
            **{
                field: getattr(service, field)
                for field in ServiceStatusResponse.model_fields
                if field != "replica_status"
            },
            "replica_status": replicas,
        }
    )


@router.get(
    "/{name}/logs", response_model=ServiceLogsResponse, responses={200: {"content": {"text/plain": {}}}}
)
def get_service_logs(
    name: str,
    manager: ServiceManagerDep,
    runtime: RuntimeDep,
    follow: Annotated[bool, Query(description="Stream the logs as text until the service stops")] = False,
    replica: Annotated[
        int | None,
        Query(ge=0, lt=MAX_REPLICAS, description="Only this replica's output, without prefixes"),
    ] = None,
    project: ProjectRecord = viewer,
) -> Any:
    """The current process's output of each replica (with several, each line starts with
    ``[index] ``); with ``follow``, a text stream that goes on as they print."""
    if follow:
        manager.replicas(project.id, name, replica)  # a 404 before the stream starts
        stream = ServiceManager.follow(
            runtime.session_factory,
            runtime.clusters,
            runtime.settings,
            runtime.secret_box,
            project.id,
            name,
            replica,
        )
        lines = iterate_in_threadpool(stream)
        return StreamingResponse(lines, media_type="text/plain; charset=utf-8")
    return ServiceLogsResponse(logs=manager.logs(project.id, name, replica))


@router.delete("/{name}", status_code=204)
def delete_service(
    name: str, user: CurrentUser, manager: ServiceManagerDep, project: ProjectRecord = editor
) -> Response:
    """Stop the service and forget it; its name is free once it has stopped."""
    manager.delete(project.id, name, user)
    return Response(status_code=204)


@router.put("/{name}/stop", response_model=ServiceResponse)
def stop_service(
    name: str, user: CurrentUser, manager: ServiceManagerDep, project: ProjectRecord = editor
) -> ServiceResponse:
    return to_response(manager.stop(project.id, name, user))


@router.put("/{name}/start", response_model=ServiceResponse)
def start_service(
    name: str, user: CurrentUser, manager: ServiceManagerDep, project: ProjectRecord = editor
) -> ServiceResponse:
    return to_response(manager.start(project.id, name, user))


@router.put("/{name}/scale", response_model=ServiceResponse, openapi_extra=json_body_doc(ServiceScale))
def scale_service(
    name: str,
    user: CurrentUser,
    manager: ServiceManagerDep,
    project: ProjectRecord = editor,
    body: ServiceScale = read_scale,
) -> ServiceResponse:
    """Change the number of replicas without restarting the others: new ones start, the
    surplus (highest indexes) stop; ``ready_replicas`` follows."""
    return to_response(manager.scale(project.id, name, user, body.replicas))


@router.put("/{name}/restart", response_model=ServiceResponse)
def restart_service(
    name: str, user: CurrentUser, manager: ServiceManagerDep, project: ProjectRecord = editor
) -> ServiceResponse:
    """Stop the running process and start a new one; exactly one runs afterwards."""
    return to_response(manager.restart(project.id, name, user))
