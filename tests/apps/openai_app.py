"""A small OpenAI-compatible ASGI app that tests run as an ``app`` service, to evaluate it with
the ``assay-service`` provider: ``/v1/models`` lists one model, ``/v1/chat/completions``
answers ``"{model}: {last user message}"``, and ``/seen`` tells what the callers sent (the
``Authorization`` headers and the model names), so a test checks at the service that no
credential reached it. It listens where the service entrypoint tells it (``$HOST:$PORT``)."""

from __future__ import annotations

import os
from collections import Counter

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "echo-1"
SEEN: dict[str, Counter[str]] = {"authorization": Counter(), "model": Counter()}


async def models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    SEEN["authorization"][request.headers.get("authorization", "")] += 1
    SEEN["model"][body["model"]] += 1
    prompt = [message["content"] for message in body["messages"] if message["role"] == "user"][-1]
    reply = f"{body['model']}: {prompt}"
    usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(reply.split())}
    return JSONResponse(
        {
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
            ],
            "usage": usage,
        }
    )


async def seen(request: Request) -> JSONResponse:
    return JSONResponse({name: dict(counts) for name, counts in SEEN.items()})


app = Starlette(
    routes=[
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/seen", seen),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
