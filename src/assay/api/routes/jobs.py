"""Job routes: Lumigator's ``/jobs`` (caller's default project) and the native
``/projects/{project}/jobs``, built from one definition and served by one service."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from assay.api.bodies import json_body_doc, lenient_json
from assay.api.deps import (
    CurrentUser,
    DownloadLinksDep,
    JobServiceDep,
    ProjectResolver,
    default_project,
    path_project,
)
from assay.api.paging import Limit, Skip
from assay.records import JobRecord, ProjectRecord, Role
from assay.schemas.datasets import DatasetResponse
from assay.schemas.jobs import (
    JobCreate,
    JobDetail,
    JobLogsResponse,
    JobResponse,
    JobResultDownloadResponse,
    JobResultResponse,
)

ROUTE_KINDS = {"inference": "inference", "annotate": "annotate", "evaluator": "evaluator", "script": "script"}


def to_response(job: JobRecord, model: type[JobResponse]) -> JobResponse:
    """SQL is the only source: a job the engine forgot still lists and reads normally."""
    return model.model_validate(
        {
            "id": job.id,
            "name": job.name,
            "description": job.description,
            "status": job.status,
            "job_type": job.kind,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "submission_id": str(job.id),
            "config": job.config,
            "message": job.status_reason,
            "start_time": job.started_at,
            "end_time": job.finished_at,
            "metadata": {
                "job_type": job.kind,
                "assay.engine_name": job.engine_name,
                "assay.project": job.project_id,
            },
            "project_id": job.project_id,
            "dataset_id": job.dataset_id,
            "output_dataset_id": job.output_dataset_id,
            "summary": job.summary,
        }
    )


def build_router(
    resolve_project: ProjectResolver,
    response_model: type[JobResponse],
    listed_kinds: list[str] | None = None,
) -> APIRouter:
    """The job routes, with ``resolve_project(role)`` choosing and checking the project
    (viewers read, editors create and stop jobs); ``listed_kinds`` limits what an unfiltered
    listing shows."""
    router = APIRouter()
    in_project = Depends(resolve_project(Role.VIEWER))
    as_editor = Depends(resolve_project(Role.EDITOR))
    read_body = Depends(lenient_json(JobCreate))

    def create(kind: str) -> Callable[..., Any]:
        def create_job(
            user: CurrentUser,
            service: JobServiceDep,
            project: ProjectRecord = as_editor,
            body: JobCreate = read_body,
        ) -> BaseModel:
            return to_response(service.create(project.id, user, body, kind), response_model)

        create_job.__name__ = f"create_{kind}_job"
        create_job.__doc__ = f"Create a {kind} job; the reconciler submits it to the compute engine."
        return create_job

    for path, kind in ROUTE_KINDS.items():
        router.add_api_route(
            f"/{path}",
            create(kind),
            methods=["POST"],
            status_code=201,
            response_model=response_model,
            openapi_extra=json_body_doc(JobCreate),
        )

    @router.get("")
    def list_jobs(
        service: JobServiceDep,
        job_types: Annotated[list[str] | None, Query()] = None,
        skip: Skip = 0,
        limit: Limit = 100,
        project: ProjectRecord = in_project,
    ) -> dict[str, Any]:
        items, total = service.list_page(project.id, job_types or listed_kinds, skip, limit)
        return {"total": total, "items": [to_response(item, response_model) for item in items]}

    @router.get("/{job_id}", response_model=response_model)
    def get_job(job_id: uuid.UUID, service: JobServiceDep, project: ProjectRecord = in_project) -> BaseModel:
        return to_response(service.get(project.id, job_id), response_model)

    @router.get("/{job_id}/logs", response_model=JobLogsResponse)
    def get_job_logs(
        job_id: uuid.UUID, service: JobServiceDep, project: ProjectRecord = in_project
    ) -> JobLogsResponse:
        return JobLogsResponse(logs=service.logs(project.id, job_id))

    @router.get("/{job_id}/result", response_model=JobResultResponse)
    def get_job_result(
        job_id: uuid.UUID, service: JobServiceDep, project: ProjectRecord = in_project
    ) -> JobResultResponse:
        job = service.get(project.id, job_id)
        return JobResultResponse(id=job.id, job_id=job.id)

    @router.get("/{job_id}/result/download", response_model=JobResultDownloadResponse)
    def get_job_result_download(
        job_id: uuid.UUID,
        links: DownloadLinksDep,
        service: JobServiceDep,
        project: ProjectRecord = in_project,
    ) -> JobResultDownloadResponse:
        url = service.result_url(project.id, job_id, links)
        return JobResultDownloadResponse(id=job_id, download_url=url)

    @router.get("/{job_id}/dataset", response_model=DatasetResponse)
    def get_job_dataset(
        job_id: uuid.UUID, service: JobServiceDep, project: ProjectRecord = in_project
    ) -> Any:
        return service.output_dataset(project.id, job_id)

    @router.put("/{job_id}/stop", response_model=response_model)
    def stop_job(
        job_id: uuid.UUID, user: CurrentUser, service: JobServiceDep, project: ProjectRecord = as_editor
    ) -> BaseModel:
        """Ask for the job to stop; its status becomes ``stopped`` once the engine has stopped it."""
        return to_response(service.stop(project.id, job_id, user), response_model)

    return router


lumigator_router = build_router(default_project, JobResponse, ["inference", "annotate", "evaluator"])
project_router = build_router(path_project, JobDetail)
