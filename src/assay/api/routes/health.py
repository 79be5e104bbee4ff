from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assay.api.deps import HealthServiceDep
from assay.schemas.health import HealthResponse

router = APIRouter()


@router.get("", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def get_health(service: HealthServiceDep) -> JSONResponse:
    """``OK`` when the database and the object store answer; 503 with the failing check if not."""
    health = service.check()
    return JSONResponse(status_code=200 if health.status == "OK" else 503, content=health.model_dump())
