"""A small OpenAI-compatible ASGI app that tests run as an ``app`` service, to evaluate it with
the ``assay-service`` provider: ``/v1/models`` lists one model, ``/v1/chat/completions``
answers ``"{model}: {last user message}"`` and appends what the caller sent (its
``Authorization`` header and the model's name) as a JSON line to the file ``$SEEN_LOG``, which
outlives a restart of the service, so that a test checks at the service that no credential
reached it. It listens where the service entrypoint tells it (``$HOST:$PORT``)."""

from __future__ import annotations

import json
import os

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "echo-1"


async def models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


def record(seen: dict[str, str]) -> None:
    with open(os.environ["SEEN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(seen) + "\n")


async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    seen = {"authorization": request.headers.get("authorization", ""), "model": body["model"]}
    await anyio.to_thread.run_sync(record, seen)
    prompt = [message["content"] for message in body["messages"] if message["role"] == "user"][-1]
    reply = f"{body['model']}: {prompt}"
    usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(reply.split())}
    choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
    answer = {"object": "chat.completion", "model": body["model"], "choices": [choice], "usage": usage}
    return JSONResponse(answer)


app = Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
