"""Projects and their members. A project's id is a slug derived from its first name and never
changes: renaming changes the display name only, so engine resources, object keys and links
that carry the id stay correct."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api.deps import CurrentUser, OwnerProject, PathProject, ProjectServiceDep
from assay.schemas.projects import MemberPut, MemberResponse, ProjectCreate, ProjectResponse, ProjectUpdate

router = APIRouter()


@router.get("", response_model=list[ProjectResponse])
def list_projects(user: CurrentUser, service: ProjectServiceDep) -> list[ProjectResponse]:
    """The projects the caller is a member of (every project for administrators)."""
    return service.list_visible(user)


@router.post("", status_code=201, response_model=ProjectResponse)
def create_project(body: ProjectCreate, user: CurrentUser, service: ProjectServiceDep) -> ProjectResponse:
    """Create a project owned by the caller. Its id is the name in lowercase with dashes for
    spaces (``My Lab`` → ``my-lab``); some ids are reserved (409)."""
    return service.create(user, body)


@router.get("/{project}", response_model=ProjectResponse)
def get_project(project: PathProject, user: CurrentUser, service: ProjectServiceDep) -> ProjectResponse:
    return service.describe(user, project)


@router.patch("/{project}", response_model=ProjectResponse)
def update_project(
    body: ProjectUpdate, project: OwnerProject, user: CurrentUser, service: ProjectServiceDep
) -> ProjectResponse:
    """Change the display name or the description (owners). The id never changes. Binding the
    project to its own Ray cluster (``ray_address``) is for administrators (403 otherwise)."""
    return service.update(user, project, body)


@router.delete("/{project}", status_code=204)
def delete_project(
    project: OwnerProject,
    user: CurrentUser,
    service: ProjectServiceDep,
    force: Annotated[bool, Query(description="also delete its datasets, files, jobs and secrets")] = False,
) -> Response:
    """Delete a project (owners). One that still holds resources needs ``force=true`` (409
    otherwise); unfinished jobs must be stopped first."""
    service.delete(user, project, force)
    return Response(status_code=204)


@router.get("/{project}/members", response_model=list[MemberResponse])
def list_members(project: PathProject, service: ProjectServiceDep) -> list[MemberResponse]:
    return service.list_members(project)


@router.put(
    "/{project}/members/{username}",
    response_model=MemberResponse,
    responses={201: {"model": MemberResponse, "description": "added"}},
)
def put_member(
    username: str,
    body: MemberPut,
    project: OwnerProject,
    user: CurrentUser,
    service: ProjectServiceDep,
    response: Response,
) -> MemberResponse:
    """Add a member (201) or change their role (200); owners only. ``owner`` manages members
    and deletes the project, ``editor`` creates, runs and deletes resources, ``viewer`` reads.
    A project keeps at least one owner."""
    member, created = service.put_member(user, project, username, body.role)
    response.status_code = 201 if created else 200
    return member


@router.delete("/{project}/members/{username}", status_code=204)
def remove_member(
    username: str, project: OwnerProject, user: CurrentUser, service: ProjectServiceDep
) -> Response:
    service.remove_member(user, project, username)
    return Response(status_code=204)
