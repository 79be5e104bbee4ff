"""Serves objects through signed, expiring links (local storage has no presigned URLs)."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from assay.api.deps import DatasetServiceDep

router = APIRouter()


@router.get("")
def download_object(
    service: DatasetServiceDep,
    key: Annotated[str, Query(max_length=1024)],
    filename: Annotated[str, Query(max_length=255)],
    expires: int,
    signature: Annotated[str, Query(max_length=128)],
) -> StreamingResponse:
    download = service.open_signed(key, filename, expires, signature)
    headers = {"Content-Disposition": f'attachment; filename="{download.filename}"'}
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return StreamingResponse(download.chunks, media_type="application/octet-stream", headers=headers)
