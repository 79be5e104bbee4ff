"""Lumigator's ``/settings/secrets`` routes, acting on the caller's default project."""

from fastapi import APIRouter, Response

from assay.api.deps import DefaultProject, SecretServiceDep
from assay.schemas.secrets import SecretGetRequest, SecretUploadRequest

router = APIRouter()


@router.get("", response_model=list[SecretGetRequest])
def list_secrets(project: DefaultProject, service: SecretServiceDep) -> list[SecretGetRequest]:
    return service.list(project.id)


@router.put("/{secret_name}", status_code=204, responses={201: {"description": "Created"}})
def put_secret(
    secret_name: str, body: SecretUploadRequest, project: DefaultProject, service: SecretServiceDep
) -> Response:
    """Create (201) or replace (204) a secret. The value is encrypted and never returned."""
    created = service.put(project.id, secret_name, body)
    return Response(status_code=201 if created else 204)


@router.delete("/{secret_name}", status_code=204)
def delete_secret(secret_name: str, project: DefaultProject, service: SecretServiceDep) -> Response:
    service.delete(project.id, secret_name)
    return Response(status_code=204)
