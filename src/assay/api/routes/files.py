"""Versioned files of a project, in the folders ``datasets``, ``models`` and ``other``.

Uploading a name that exists adds its next version; reads return the newest version unless
``version`` is given. Viewers read; editors upload and delete.
"""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from assay.api.deps import CurrentUser, EditorProject, FileServiceDep, PathProject
from assay.api.multipart import MultipartUpload
from assay.api.openapi import error_responses
from assay.api.paging import MAX_COUNT, Limit, Skip
from assay.records import FileFolder
from assay.schemas.common import ListingResponse
from assay.schemas.files import FileDeleteResponse, FileVersionResponse
from assay.services.files import FILE_FIELD

router = APIRouter()
Version = Annotated[int | None, Query(ge=1, le=MAX_COUNT, description="default: the newest version")]
UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {"type": "string", "format": "binary"},
                        "folder": {"type": "string", "enum": list(FileFolder), "default": FileFolder.OTHER},
                        "name": {"type": "string", "description": "default: the uploaded file's name"},
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=FileVersionResponse,
    openapi_extra=UPLOAD_DOC,
    responses=error_responses(413),
)
async def upload_file(
    request: Request, user: CurrentUser, service: FileServiceDep, project: EditorProject
) -> Any:
    """Upload a file (streamed; its SHA-256 is computed on the way). A name that exists in the
    folder gets its next version; concurrent uploads of one name each get their own."""
    upload = await MultipartUpload.open(request, FILE_FIELD)
    return await service.upload(project.id, user, upload)


@router.get("", response_model=ListingResponse[FileVersionResponse])
def list_files(
    service: FileServiceDep,
    project: PathProject,
    folder: FileFolder | None = None,
    all_versions: Annotated[bool, Query(description="every version instead of the newest of each")] = False,
    skip: Skip = 0,
    limit: Limit = 100,
) -> Any:
    items, total = service.list_page(project.id, folder, all_versions, skip, limit)
    return {"total": total, "items": items}


@router.get("/{folder}/{name}", response_model=FileVersionResponse)
def get_file(
    folder: FileFolder, name: str, service: FileServiceDep, project: PathProject, version: Version = None
) -> Any:
    """Metadata of one version: size, SHA-256, content type, who uploaded it and when."""
    return service.get(project.id, folder, name, version)


@router.get("/{folder}/{name}/versions", response_model=list[FileVersionResponse])
def list_versions(folder: FileFolder, name: str, service: FileServiceDep, project: PathProject) -> Any:
    """Every version of a file, newest first."""
    return service.versions(project.id, folder, name)


@router.get("/{folder}/{name}/content", response_class=StreamingResponse)
def download_file(
    folder: FileFolder, name: str, service: FileServiceDep, project: PathProject, version: Version = None
) -> StreamingResponse:
    """The bytes of one version, streamed; the ETag is its SHA-256."""
    download = service.open(project.id, folder, name, version)
    record = download.record
    return StreamingResponse(
        download.chunks,
        media_type=record.content_type,
        headers={
            "Content-Length": str(record.size),
            "Content-Disposition": _attachment(record.name),
            "ETag": f'"{record.sha256}"',
            "X-Assay-File-Version": str(record.version),
            # Uploaded bytes are never rendered as a page of the API's origin.
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{folder}/{name}", response_model=FileDeleteResponse)
def delete_file(
    folder: FileFolder,
    name: str,
    user: CurrentUser,
    service: FileServiceDep,
    project: EditorProject,
    keep: Annotated[
        int, Query(ge=0, le=MAX_COUNT, description="keep this many newest versions (0: delete all)")
    ] = 0,
) -> FileDeleteResponse:
    return FileDeleteResponse(deleted_versions=service.delete(project.id, user, folder, name, keep))


def _attachment(name: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name for clients that read it."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
