"""A small ASGI app that tests run as an ``app`` service (``python tests/apps/echo_app.py``):
a page, the headers it received (and its port, which tells replicas apart), the digest of a
streamed upload, a stream of events, a WebSocket echo, what reached its process (``/probe``),
and a health path that fails once ``/sicken`` was posted. It listens where the service
entrypoint tells it (``$HOST:$PORT``). Like a careless app, it prints the variables named in
``ECHO_PRINT`` when it starts: their values must not show in the service's logs."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import os
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

PAGE = "<h1>echo service</h1>"


async def page(request: Request) -> HTMLResponse:
    """The page, and what a hostile service would try: setting Assay's session cookie (to sign
    the visitor in as someone else) beside a cookie of its own."""
    response = HTMLResponse(PAGE)
    response.set_cookie("assay_session", "planted-by-the-service", path="/")
    response.set_cookie("app_pref", "dark", path="/")
    return response


async def headers(request: Request) -> JSONResponse:
    return JSONResponse({"headers": dict(request.headers), "port": os.environ["PORT"]})


async def digest_body(request: Request) -> JSONResponse:
    """The size and SHA-256 of the body, read as it streams in."""
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({"size": size, "sha256": digest.hexdigest()})


async def events(request: Request) -> StreamingResponse:
    count = int(request.query_params.get("n", "3"))
    delay = float(request.query_params.get("delay", "0.05"))

    async def produce() -> AsyncIterator[str]:
        for index in range(count):
            yield f"data: {index}\n\n"
            await asyncio.sleep(delay)

    return StreamingResponse(produce(), media_type="text/event-stream")


async def health(request: Request) -> PlainTextResponse:
    sick = getattr(request.app.state, "sick", False)
    return PlainTextResponse("sick" if sick else "ok", status_code=503 if sick else 200)


async def sicken(request: Request) -> JSONResponse:
    """From now on this process's health path fails, though it goes on serving."""
    request.app.state.sick = True
    return JSONResponse({"port": os.environ["PORT"]})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        await websocket.send_text(f"echo: {text}")


async def probe(request: Request) -> JSONResponse:
    """The SHA-256 of the variable ``variable``, and the ``VERSION`` and file of ``module``."""
    value = os.environ.get(request.query_params["variable"], "")
    module = importlib.import_module(request.query_params["module"])
    return JSONResponse(
        {
            "sha256": hashlib.sha256(value.encode()).hexdigest(),
            "version": getattr(module, "VERSION", None),
            "file": module.__file__,
        }
    )


app = Starlette(
    routes=[
        Route("/", page),
        Route("/headers", headers),
        Route("/body", digest_body, methods=["POST"]),
        Route("/events", events),
        Route("/probe", probe),
        Route("/health", health),
        Route("/sicken", sicken, methods=["POST"]),
        WebSocketRoute("/ws", echo),
    ]
)

if __name__ == "__main__":
    for name in filter(None, os.environ.get("ECHO_PRINT", "").split(",")):
        print(f"{name}={os.environ.get(name, '')}", flush=True)
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
