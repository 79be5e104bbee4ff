"""The audit log: a project's events for its owners, every event for administrators."""

from typing import Annotated

from fastapi import APIRouter, Query

from assay.api.deps import AdminUser, AuditTrailDep, OwnerProject
from assay.api.paging import Limit, Skip
from assay.schemas.common import ListingResponse
from assay.schemas.projects import AuditEventResponse
from assay.services.audit import AuditTrail

project_router = APIRouter()
admin_router = APIRouter()


def _page(
    trail: AuditTrail, project_id: str | None, skip: int, limit: int
) -> ListingResponse[AuditEventResponse]:
    items, total = trail.list_page(project_id, skip, limit)
    return ListingResponse[AuditEventResponse](
        total=total, items=[AuditEventResponse.model_validate(item) for item in items]
    )


@project_router.get("", response_model=ListingResponse[AuditEventResponse])
def list_project_events(
    project: OwnerProject, trail: AuditTrailDep, skip: Skip = 0, limit: Limit = 100
) -> ListingResponse[AuditEventResponse]:
    """Who created, ran, changed or deleted what in this project, newest first (owners)."""
    return _page(trail, project.id, skip, limit)


@admin_router.get("", response_model=ListingResponse[AuditEventResponse])
def list_events(
    _: AdminUser,
    trail: AuditTrailDep,
    project: Annotated[str | None, Query(max_length=64, description="only this project's events")] = None,
    skip: Skip = 0,
    limit: Limit = 100,
) -> ListingResponse[AuditEventResponse]:
    """Every event, including those outside projects: accounts, tokens, deleted projects."""
    return _page(trail, project, skip, limit)
