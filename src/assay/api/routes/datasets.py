"""Dataset routes, mounted twice: Lumigator's ``/datasets`` (caller's default project) and
the native ``/projects/{project}/datasets``. Both call the same service."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from assay.api.deps import (
    CurrentUser,
    DatasetServiceDep,
    DownloadLinksDep,
    ProjectResolver,
    default_project,
    path_project,
)
from assay.api.multipart import MultipartUpload
from assay.api.openapi import error_responses
from assay.api.paging import Limit, Offset, Skip
from assay.records import ProjectRecord, Role
from assay.schemas.common import ListingResponse
from assay.schemas.datasets import DatasetDetail, DatasetDownloadResponse, DatasetResponse, DatasetRows

ContentHash = Annotated[
    str | None,
    Query(
        pattern="^[0-9a-f]{64}$",
        description="only datasets whose uploaded bytes have this SHA-256 (lowercase hex)",
    ),
]

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["dataset"],
                    "properties": {
                        "dataset": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, JSONL or Parquet",
                        },
                        "format": {"type": "string", "enum": ["job"], "default": "job"},
                        "run_id": {"type": "string", "format": "uuid"},
                        "generated": {"type": "boolean", "default": False},
                        "generated_by": {"type": "string"},
                    },
                }
            }
        },
    }
}


def build_router(resolve_project: ProjectResolver, response_model: type[BaseModel]) -> APIRouter:
    """The dataset routes, with ``resolve_project(role)`` choosing and checking the project of
    each request: viewers read, editors upload and delete."""
    router = APIRouter()
    in_project = Depends(resolve_project(Role.VIEWER))
    as_editor = Depends(resolve_project(Role.EDITOR))

    @router.post(
        "",
        status_code=201,
        response_model=response_model,
        openapi_extra=UPLOAD_DOC,
        responses=error_responses(413),
    )
    async def upload_dataset(
        request: Request, user: CurrentUser, service: DatasetServiceDep, project: ProjectRecord = as_editor
    ) -> Any:
        """Upload a CSV, JSONL or Parquet table with an ``examples`` column (streamed, validated)."""
        upload = await MultipartUpload.open(request, "dataset")
        return await service.create(project.id, upload, user)

    @router.get("", response_model=ListingResponse[response_model])  # type: ignore[valid-type]
    def list_datasets(
        service: DatasetServiceDep,
        skip: Skip = 0,
        limit: Limit = 100,
        sha256: ContentHash = None,
        project: ProjectRecord = in_project,
    ) -> Any:
        items, total = service.list_page(project.id, skip, limit, sha256)
        return {"total": total, "items": items}

    @router.get("/{dataset_id}", response_model=response_model)
    def get_dataset(
        dataset_id: uuid.UUID, service: DatasetServiceDep, project: ProjectRecord = in_project
    ) -> Any:
        return service.get(project.id, dataset_id)

    @router.delete("/{dataset_id}", status_code=204)
    def delete_dataset(
        dataset_id: uuid.UUID,
        user: CurrentUser,
        service: DatasetServiceDep,
        project: ProjectRecord = as_editor,
    ) -> Response:
        service.delete(project.id, dataset_id, user)
        return Response(status_code=204)

    @router.get("/{dataset_id}/download", response_model=DatasetDownloadResponse)
    def get_dataset_download(
        dataset_id: uuid.UUID,
        links: DownloadLinksDep,
        service: DatasetServiceDep,
        extension: Annotated[
            str | None, Query(max_length=16, description="only files with it, e.g. csv")
        ] = None,
        project: ProjectRecord = in_project,
    ) -> DatasetDownloadResponse:
        urls = service.download_urls(project.id, dataset_id, extension, links.base_url)
        return DatasetDownloadResponse(id=dataset_id, download_urls=urls)

    @router.get("/{dataset_id}/rows", response_model=DatasetRows)
    def preview_dataset(
        dataset_id: uuid.UUID,
        service: DatasetServiceDep,
        offset: Offset = 0,
        limit: Limit = 50,
        project: ProjectRecord = in_project,
    ) -> DatasetRows:
        """A page of rows as JSON objects."""
        return service.rows(project.id, dataset_id, offset, limit)

    return router


lumigator_router = build_router(default_project, DatasetResponse)
project_router = build_router(path_project, DatasetDetail)
