from typing import Annotated

from fastapi import APIRouter, Query

from assay.api.deps import CatalogDep
from assay.schemas.common import ListingResponse
from assay.schemas.models import ModelsResponse

router = APIRouter()


@router.get("", response_model=ListingResponse[ModelsResponse])
def list_models(
    catalog: CatalogDep,
    tasks: Annotated[list[str] | None, Query(description="summarization, translation, ...")] = None,
) -> ListingResponse[ModelsResponse]:
    """Suggested models, optionally only those for the given tasks."""
    items = catalog.for_tasks(tasks)
    return ListingResponse[ModelsResponse](total=len(items), items=items)
