"""The internal job API: what a running job may ask of Assay, with its job credential.

Not under user authentication: every route but ``claim`` takes the job's session token
(``Authorization: Bearer``), and acts only within that job's scope. Objects stream in both
directions; reads honour a single ``Range``, which Parquet readers use to seek.
"""

from __future__ import annotations

import re
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from assay.api.credentials import read_bearer
from assay.api.deps import (
    CurrentJob,
    CurrentWorker,
    JobAccessDep,
    JobCredentialsDep,
    RuntimeDep,
    ServiceSecretsDep,
    WorkerDeskDep,
    WorkerLinksDep,
)
from assay.compute import EngineStatus
from assay.errors import InvalidInputError
from assay.schemas.job_api import (
    JobApiKey,
    JobClaim,
    JobObject,
    JobObjectList,
    JobObjectsDeleted,
    ServiceSecretValues,
    WorkerBeat,
    WorkerFinished,
    WorkerStops,
    WorkerTake,
)
from assay.storage import ObjectWriter

router = APIRouter()
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
WRITE_CHUNK = 1024 * 1024


@router.post("/claim", response_model=JobClaim)
def claim(request: Request, credentials: JobCredentialsDep, runtime: RuntimeDep) -> JobClaim:
    """Trade the claim token from the job's environment for a session token (once)."""
    job, token = credentials.claim(read_bearer(request))
    return JobClaim(
        token=token, job_id=job.id, config_key=job.config_key, env_names=list(runtime.settings.job_env_names)
    )


@router.post("/worker/take", response_model=WorkerTake, responses={204: {"description": "no job came"}})
def worker_take(
    worker: CurrentWorker, desk: WorkerDeskDep, wait: Annotated[float, Query(ge=0, le=30)] = 0
) -> WorkerTake | Response:
    """A warm worker's next built-in job and that job's own claim token; waits up to ``wait``
    seconds for one."""
    taken = desk.take(worker, wait)
    if taken is None:
        return Response(status_code=204)
    return WorkerTake(job_id=taken.job_id, claim_token=taken.claim_token, config_key=taken.config_key)


@router.post("/worker/beat", response_model=WorkerStops)
def worker_beat(body: WorkerBeat, worker: CurrentWorker, desk: WorkerDeskDep) -> WorkerStops:
    """The worker still runs these jobs; the answer names those it must stop."""
    return WorkerStops(stop=desk.beat(worker, body.job_ids))


@router.post("/worker/finished", status_code=204)
def worker_finished(body: WorkerFinished, worker: CurrentWorker, desk: WorkerDeskDep) -> Response:
    desk.finished(worker, body.job_id, EngineStatus(body.status), body.message, body.output)
    return Response(status_code=204)


@router.get("/secret", response_model=JobApiKey)
def api_key(job: CurrentJob, access: JobAccessDep) -> JobApiKey:
    """The provider API key named in the job's own config (404 when it names none)."""
    key = access.api_key(job)
    return JobApiKey(name=key.name, value=key.value)


@router.post("/service/secrets", response_model=ServiceSecretValues)
def service_secrets(
    request: Request, secrets: ServiceSecretsDep, links: WorkerLinksDep
) -> ServiceSecretValues:
    """Trade a service's claim token (once) for the secrets the service names and, for a model
    service whose model is a project file, a short-lived link to that file; its entrypoint
    asks before it becomes the service's command."""
    claimed = secrets.claim(read_bearer(request), links)
    return ServiceSecretValues(env=claimed.env, model_url=claimed.model_url)


@router.get("/objects", response_model=JobObjectList)
def list_objects(
    job: CurrentJob, access: JobAccessDep, prefix: Annotated[str, Query(max_length=1024)]
) -> JobObjectList:
    return JobObjectList(items=[JobObject(key=i.key, size=i.size) for i in access.list(job, prefix)])


@router.delete("/objects", response_model=JobObjectsDeleted)
def delete_objects(
    job: CurrentJob, access: JobAccessDep, prefix: Annotated[str, Query(max_length=1024)]
) -> JobObjectsDeleted:
    return JobObjectsDeleted(deleted=access.delete_prefix(job, prefix))


@router.head("/objects/{key:path}")
def stat_object(key: str, job: CurrentJob, access: JobAccessDep) -> Response:
    size = access.stat(job, key).size
    return Response(headers={"Content-Length": str(size), "Accept-Ranges": "bytes"})


@router.get("/objects/{key:path}")
def read_object(
    key: str,
    job: CurrentJob,
    access: JobAccessDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    match = RANGE.fullmatch(range_header.strip()) if range_header else None
    first, last = (match.group(1), match.group(2)) if match else ("", "")
    ranged = bool(first or last)
    read = access.read(job, key, int(first) if first else None, int(last) if last else None)
    headers = {"Content-Length": str(read.end - read.start + 1), "Accept-Ranges": "bytes"}
    if ranged:
        headers["Content-Range"] = f"bytes {read.start}-{read.end}/{read.size}"
    return StreamingResponse(
        read.chunks,
        status_code=206 if ranged else 200,
        media_type="application/octet-stream",
        headers=headers,
    )


@router.put("/objects/{key:path}", status_code=201, response_model=JobObject)
async def write_object(key: str, request: Request, job: CurrentJob, access: JobAccessDep) -> JobObject:
    """Stream the request body into the object; it appears only once the body is complete."""
    writer = await anyio.to_thread.run_sync(access.open_writer, job, key, request.headers.get("content-type"))
    try:
        size = await _pump(request, writer)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.abort)
        raise
    return JobObject(key=key, size=size)


async def _pump(request: Request, writer: ObjectWriter) -> int:
    pending = bytearray()
    try:
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= WRITE_CHUNK:
                await anyio.to_thread.run_sync(writer.write, bytes(pending))
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(writer.write, bytes(pending))
        return (await anyio.to_thread.run_sync(writer.commit)).size
    except ClientDisconnect:
        raise InvalidInputError("the upload ended before its body was complete", field="body") from None
