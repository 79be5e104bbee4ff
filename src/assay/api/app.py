"""The application factory: routers, error mapping and the start/stop of shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from assay import __version__
from assay.api.errors import install_error_handlers
from assay.api.routes import datasets, experiments, health, jobs, models, objects, secrets
from assay.background import start_duties
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
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
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
        runtime = await anyio.to_thread.run_sync(Runtime.build, settings)
        await anyio.to_thread.run_sync(_start, runtime)
        app.state.runtime = runtime
        loops = start_duties(runtime)
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for loop in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            await anyio.to_thread.run_sync(runtime.close)

    app = FastAPI(
        title="Assay",
        version=__version__,
        description="Evaluate, compare and serve ML models. Lumigator v1 compatible.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    install_error_handlers(app)
    app.include_router(health.router, prefix=f"{API}/health", tags=["health"])
    app.include_router(datasets.lumigator_router, prefix=f"{API}/datasets", tags=["datasets"])
    app.include_router(
        datasets.project_router, prefix=f"{API}/projects/{{project}}/datasets", tags=["datasets (projects)"]
    )
    app.include_router(jobs.lumigator_router, prefix=f"{API}/jobs", tags=["jobs"])
    app.include_router(
        jobs.project_router, prefix=f"{API}/projects/{{project}}/jobs", tags=["jobs (projects)"]
    )
    app.include_router(experiments.lumigator_experiments, prefix=f"{API}/experiments", tags=["experiments"])
    app.include_router(
        experiments.project_experiments,
        prefix=f"{API}/projects/{{project}}/experiments",
        tags=["experiments (projects)"],
    )
    app.include_router(experiments.lumigator_workflows, prefix=f"{API}/workflows", tags=["workflows"])
    app.include_router(
        experiments.project_workflows,
        prefix=f"{API}/projects/{{project}}/workflows",
        tags=["workflows (projects)"],
    )
    app.include_router(models.router, prefix=f"{API}/models", tags=["models"])
    app.include_router(secrets.router, prefix=f"{API}/settings/secrets", tags=["secrets"])
    app.include_router(objects.router, prefix=f"{API}/objects", tags=["objects"])
    app.add_middleware(StripTrailingSlash)
    return app
