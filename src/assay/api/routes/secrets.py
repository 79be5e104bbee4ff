"""Secret routes, mounted twice: Lumigator's ``/settings/secrets`` (caller's default project)
and the native ``/projects/{project}/secrets``. Viewers list names and descriptions; editors
create, replace and delete. Values are write-only."""

from fastapi import APIRouter, Depends, Response

from assay.api.bodies import json_body_doc, lenient_json
from assay.api.deps import CurrentUser, ProjectResolver, SecretServiceDep, default_project, path_project
from assay.records import ProjectRecord, Role
from assay.schemas.secrets import SecretDetail, SecretGetRequest, SecretUploadRequest


def build_router(resolve_project: ProjectResolver, listing_model: type[SecretGetRequest]) -> APIRouter:
    """The secret routes, with ``resolve_project(role)`` choosing and checking the project;
    ``listing_model`` is Lumigator's exact item or the native one with ``allowed_hosts``."""
    router = APIRouter()
    viewer = Depends(resolve_project(Role.VIEWER))
    editor = Depends(resolve_project(Role.EDITOR))
    read_body = Depends(lenient_json(SecretUploadRequest))

    @router.get("", response_model=list[listing_model])  # type: ignore[valid-type]
    def list_secrets(service: SecretServiceDep, project: ProjectRecord = viewer) -> list[SecretGetRequest]:
        return [listing_model.model_validate(secret) for secret in service.list(project.id)]

    @router.put(
        "/{secret_name}",
        status_code=204,
        responses={201: {"description": "Created"}},
        openapi_extra=json_body_doc(SecretUploadRequest),
    )
    def put_secret(
        secret_name: str,
        user: CurrentUser,
        service: SecretServiceDep,
        project: ProjectRecord = editor,
        body: SecretUploadRequest = read_body,
    ) -> Response:
        """Create (201) or replace (204) a secret. The value is encrypted and never returned."""
        created = service.put(project.id, secret_name, body, user)
        return Response(status_code=201 if created else 204)

    @router.delete("/{secret_name}", status_code=204)
    def delete_secret(
        secret_name: str, user: CurrentUser, service: SecretServiceDep, project: ProjectRecord = editor
    ) -> Response:
        service.delete(project.id, secret_name, user)
        return Response(status_code=204)

    return router


lumigator_router = build_router(default_project, SecretGetRequest)
project_router = build_router(path_project, SecretDetail)
