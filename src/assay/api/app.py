"""The application factory: routers, error mapping and the start/stop of shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from assay import __version__
from assay.api.access_log import redact_access_log
from assay.api.deps import get_current_user
from assay.api.docs import install_docs
from assay.api.edge import PROXY_PATH, EdgeGuard, SecurityHeaders, edge_guards
from assay.api.errors import install_error_handlers
from assay.api.gateway import Admissions, Gateway, new_client
from assay.api.gateway import router as gateway_router
from assay.api.openapi import PUBLIC_ERRORS, SIGNED_IN_ERRORS, error_responses, install_openapi
from assay.api.public_url import TrustedProxyHeaders
from assay.api.routes import (
    audit,
    auth,
    datasets,
    experiments,
    files,
    health,
    job_api,
    jobs,
    models,
    objects,
    projects,
    secrets,
    services,
    users,
)
from assay.api.routes.ui import install_ui
from assay.background import start_duties, stop_jobs_on_shutdown
from assay.config import Settings
from assay.db.migrate import upgrade
from assay.runtime import Runtime
from assay.services.bootstrap import ensure_defaults

log = logging.getLogger(__name__)
API = "/api/v1"


class StripTrailingSlash:
    """``/datasets`` and ``/datasets/`` reach the same route without a redirect: Lumigator's
    clients use both, and a 307 would make them send a large upload twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/") and not PROXY_PATH.match(path):
            scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
        await self.app(scope, receive, send)


def _start(runtime: Runtime) -> None:
    upgrade(runtime.engine)
    with runtime.session_factory() as session:
        ensure_defaults(session, runtime.settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()
        runtime = await anyio.to_thread.run_sync(Runtime.build, settings)
        await anyio.to_thread.run_sync(_start, runtime)
        app.state.runtime = runtime
        app.state.gateway = new_client()
        app.state.admissions = Admissions()
        loops = start_duties(runtime)
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for loop in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            try:
                await anyio.to_thread.run_sync(stop_jobs_on_shutdown, runtime)
            finally:
                await app.state.gateway.close()
                await anyio.to_thread.run_sync(runtime.close)

    app = FastAPI(
        title="Assay",
        version=__version__,
        description="Evaluate, compare and serve ML models. Lumigator v1 compatible.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        # A body without a Content-Type is JSON (the Lumigator SDK sends its JSON so); the edge
        # guard refuses such bodies from browsers, which is what the strict default is for.
        strict_content_type=False,
    )
    install_error_handlers(app)
    install_docs(app)
    install_openapi(app)
    # Public: health (load balancers), login and logout, and signed links, whose signature is
    # their credential (as with a presigned S3 URL).
    public = error_responses(*PUBLIC_ERRORS)
    app.include_router(health.router, prefix=f"{API}/health", tags=["health"], responses=public)
    app.include_router(auth.router, prefix=f"{API}/auth", tags=["auth"], responses=public)
    signed_link = error_responses(*PUBLIC_ERRORS, 404, 503)
    app.include_router(objects.router, prefix=f"{API}/objects", tags=["objects"], responses=signed_link)
    # Jobs: authenticated by their own job credential, never as a user.
    job_errors = error_responses(*PUBLIC_ERRORS, 401, 404, 503)
    app.include_router(job_api.router, prefix=f"{API}/job", tags=["job api (internal)"], responses=job_errors)
    # Everything else has a caller: 401 without credentials where the server requires them.
    signed_in = [Depends(get_current_user)]
    signed_in_errors = error_responses(*SIGNED_IN_ERRORS)
    for router, path, tag in (
        (datasets.lumigator_router, "/datasets", "datasets"),
        (jobs.lumigator_router, "/jobs", "jobs"),
        (experiments.lumigator_experiments, "/experiments", "experiments"),
        (experiments.lumigator_workflows, "/workflows", "workflows"),
        (models.router, "/models", "models"),
        (secrets.lumigator_router, "/settings/secrets", "secrets"),
        (projects.router, "/projects", "projects"),
        (datasets.project_router, "/projects/{project}/datasets", "datasets (projects)"),
        (jobs.project_router, "/projects/{project}/jobs", "jobs (projects)"),
        (experiments.project_experiments, "/projects/{project}/experiments", "experiments (projects)"),
        (experiments.project_workflows, "/projects/{project}/workflows", "workflows (projects)"),
        (files.router, "/projects/{project}/files", "files"),
        (secrets.project_router, "/projects/{project}/secrets", "secrets (projects)"),
        (services.router, "/projects/{project}/services", "services"),
        (audit.project_router, "/projects/{project}/audit", "audit"),
        (audit.admin_router, "/audit", "audit"),
        (users.router, "/users", "users"),
    ):
        app.include_router(
            router, prefix=API + path, tags=[tag], dependencies=signed_in, responses=signed_in_errors
        )
    # Not under ``signed_in``: its WebSocket route authenticates itself (no Request there).
    app.include_router(
        gateway_router,
        prefix=f"{API}/projects/{{project}}/services",
        tags=["services (gateway)"],
        responses=signed_in_errors,
    )
    install_ui(app)
    # Innermost: the gateway's requests pass every edge check below, then skip the router.
    app.add_middleware(Gateway)
    app.add_middleware(StripTrailingSlash)
    app.add_middleware(EdgeGuard, guards=edge_guards(settings))
    app.add_middleware(SecurityHeaders)
    # Outside the edge guard, so that it checks the Host a trusted proxy forwarded.
    app.add_middleware(TrustedProxyHeaders, settings=settings)
    if settings.cors_origins:
        # Outermost, so that preflights are answered before any other middleware sees them. A
        # browser sends the session cookie cross-origin only to an origin listed here.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    return app
