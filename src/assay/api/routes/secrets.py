"""Lumigator's ``/settings/secrets`` routes, acting on the caller's default project."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from assay.api.bodies import json_body_doc, lenient_json
from assay.api.deps import DefaultProject, SecretServiceDep
from assay.schemas.secrets import SecretGetRequest, SecretUploadRequest

router = APIRouter()


@router.get("", response_model=list[SecretGetRequest])
def list_secrets(project: DefaultProject, service: SecretServiceDep) -> list[SecretGetRequest]:
    return service.list_names(project.id)


@router.put(
    "/{secret_name}",
    status_code=204,
    responses={201: {"description": "Created"}},
    openapi_extra=json_body_doc(SecretUploadRequest),
)
def put_secret(
    secret_name: str,
    body: Annotated[SecretUploadRequest, Depends(lenient_json(SecretUploadRequest))],
    project: DefaultProject,
    service: SecretServiceDep,
) -> Response:
    """Create (201) or replace (204) a secret. The value is encrypted and never returned."""
    created = service.put(project.id, secret_name, body)
    return Response(status_code=201 if created else 204)


@router.delete("/{secret_name}", status_code=204)
def delete_secret(secret_name: str, project: DefaultProject, service: SecretServiceDep) -> Response:
    service.delete(project.id, secret_name)
    return Response(status_code=204)
