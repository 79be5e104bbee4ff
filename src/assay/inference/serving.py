"""An OpenAI-compatible HTTP server over one local transformers model: what a ``model``
service runs without a GPU (``assay.jobs.model_server``; with one and vLLM, vLLM's own server).

Not ``transformers serve``, though it has the same routes: it cannot load the packaged GGUF
SmolLM2 (its loader reads the architecture from a config that the GGUF lacks), it has no
served-model name (clients would send the model's path on the node), and it answers
``/load_model`` and ``/reset`` to any caller, with which a project's viewer could make the
service load other models. This app loads the model as the ``hf`` provider does
(``providers.hf.load``) and maps the settings as it does (``generate_kwargs``).

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` and ``/v1/completions``; with
``stream``, server-sent events (``data: {chunk}``, then ``data: [DONE]``). Requests are pydantic
models that refuse unknown fields and impossible values with OpenAI's 400 error body, naming
the parameter. One generation runs at a time (a lock taken in a worker thread, so the event
loop never waits on the model), with at most ``QUEUE`` requests waiting (then 429 with
``Retry-After``); an answer, streamed or not, whose client went away stops at
the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from assay.inference.config import GenerationParams
from assay.inference.providers.hf import LoadedModel, completion_length, generate_kwargs

DONE = "data: [DONE]\n\n"
# Requests let in beyond the one being generated; the next ones get 429, which the inference
# client answers by lowering its concurrency (AIMD) and retrying after ``RETRY_AFTER_S``.
QUEUE = 4
RETRY_AFTER_S = 1
DISCONNECT_POLL_S = 0.2  # how often a plain answer's generation looks whether its client is still there


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def as_template_input(self) -> dict[str, str]:
        """The shape chat templates read; OpenAI's ``developer`` is the ``system`` of templates."""
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


def _no_penalty(value: float) -> float:
    if value != 0:
        raise ValueError("this server applies no penalty: only 0 is accepted (vLLM's engine applies them)")
    return value


# OpenAI's frequency and presence penalties: sent by OpenAI's clients, and by Assay's ``openai``
# provider whenever a workflow sets them (Lumigator's clients send 0.0). transformers has no
# such penalty, so only 0, which changes nothing, is accepted.
NoPenalty = Annotated[float, AfterValidator(_no_penalty)]


class StreamOptions(_Strict):
    include_usage: bool = False


class Sampling(_Strict):
    """The settings both routes take; those left out come from the service's ``generation``."""

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    seed: int | None = None
    frequency_penalty: NoPenalty = 0.0
    presence_penalty: NoPenalty = 0.0
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    stream: bool = False
    stream_options: StreamOptions | None = None

    def generation(self, defaults: GenerationParams) -> GenerationParams:
        chosen = {
            "max_new_tokens": self.max_new_tokens(),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": [self.stop] if isinstance(self.stop, str) else self.stop,
            "seed": self.seed,
        }
        return defaults.model_copy(update={key: value for key, value in chosen.items() if value is not None})

    def max_new_tokens(self) -> int | None:
        return self.max_tokens


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1, description="the newer name of max_tokens")

    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(Sampling):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


@dataclass(frozen=True)
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


class OpenAIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers

    def response(self) -> JSONResponse:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        error = {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


class Engine:
    """The loaded model behind a lock: one ``generate`` at a time, in the caller's thread, and
    at most ``queue`` requests waiting for it. Without that bound a client that sends many at
    once (an inference job, 32 by default) fills a queue whose last requests time out before
    their turn, and each retry joins the back of it; with it, the client is told to slow down
    (429) and its limiter settles on what the model can answer."""

    def __init__(self, loaded: LoadedModel, defaults: GenerationParams, queue: int = QUEUE) -> None:
        if loaded.seq2seq:
            raise ValueError("a model service serves causal language models; this one is seq2seq")
        self.loaded = loaded
        self.defaults = defaults
        self.queue = queue
        self.admitted = 0  # requests let in and not yet answered; read and changed on the event loop only
        self._lock = threading.Lock()
        eos = loaded.model.generation_config.eos_token_id
        self._stop_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])

    def check_room(self) -> None:
        """429 when the queue is full (``admitted`` counts the one being generated too)."""
        if self.admitted > self.queue:
            raise OpenAIError(
                429,
                f"the model is busy: {self.admitted} requests are ahead of this one; retry later",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        self.check_room()
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    def chat_prompt(self, messages: list[Message]) -> str:
        tokenizer = self.loaded.tokenizer
        if not tokenizer.chat_template:
            raise OpenAIError(400, "this model has no chat template: use /v1/completions", "messages")
        rendered = tokenizer.apply_chat_template(
            [message.as_template_input() for message in messages], tokenize=False, add_generation_prompt=True
        )
        return str(rendered)

    def generate(
        self,
        prompt: str,
        templated: bool,
        generation: GenerationParams,
        streamer: Any = None,
        cancelled: threading.Event | None = None,
    ) -> Answer:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled is not None and cancelled.is_set()

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        # A chat template already wrote BOS and friends.
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated).to(model.device)
        kwargs = generate_kwargs(generation, tokenizer)
        kwargs["stopping_criteria"] = StoppingCriteriaList([Cancelled()])
        if streamer is not None:
            kwargs["streamer"] = streamer
        with self._lock, torch.inference_mode():
            if generation.seed is not None:
                torch.manual_seed(generation.seed)
            try:
                output = model.generate(**encoded, **kwargs)
            except Exception:
                if streamer is not None:
                    streamer.end()  # the stream's reader must not wait for text that never comes
                raise
        prompt_tokens = int(encoded["input_ids"].shape[1])
        generated = output[0, prompt_tokens:].tolist()
        length = completion_length(generated, self._stop_ids, tokenizer.pad_token_id)
        text = str(tokenizer.decode(generated[:length], skip_special_tokens=True))
        finished = length < generation.max_new_tokens or (bool(generated) and generated[-1] in self._stop_ids)
        for stop in generation.stop or ():
            if text.endswith(stop):
                text, finished = text[: -len(stop)], True
        return Answer(text, prompt_tokens, length, "stop" if finished else "length")


def _stream(
    engine: Engine,
    prompt: str,
    templated: bool,
    generation: GenerationParams,
    chunk: Callable[[str | None, str | None], dict[str, Any]],
    include_usage: bool,
    opening: dict[str, Any] | None = None,
) -> AsyncIterator[str]:
    """Server-sent events: ``opening`` (a chat's role), then ``chunk(text, finish_reason)``
    with the text as it is generated, a last chunk with the finish reason, the usage when
    asked, then ``[DONE]``."""
    from transformers import AsyncTextIteratorStreamer

    async def events() -> AsyncIterator[str]:
        streamer = AsyncTextIteratorStreamer(
            engine.loaded.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        cancelled = threading.Event()
        with engine.admission():
            work = asyncio.ensure_future(
                asyncio.to_thread(engine.generate, prompt, templated, generation, streamer, cancelled)
            )
            try:
                if opening is not None:
                    yield _event(opening)
                async for text in streamer:
                    if text:
                        yield _event(chunk(text, None))
                answer = await work
            finally:
                cancelled.set()
        yield _event(chunk(None, answer.finish_reason))
        if include_usage:
            yield _event({**chunk(None, None), "choices": [], "usage": answer.usage()})
        yield DONE

    # Refused while the response can still say so; admitted once the stream starts, so that a
    # stream its client left before it began holds no place.
    engine.check_room()
    return events()


async def _answer(
    http: Request, engine: Engine, prompt: str, templated: bool, generation: GenerationParams
) -> Answer:
    """A plain answer, whose generation stops once its client has gone. A client that timed
    out (an inference job's, while its request waited for the lock behind the others) sends the
    request again: an answer nobody reads would keep the lock from it, and with many clients
    the queue would fill with such answers until every request timed out."""
    cancelled = threading.Event()
    with engine.admission():
        work = asyncio.ensure_future(
            asyncio.to_thread(engine.generate, prompt, templated, generation, None, cancelled)
        )
        while not (await asyncio.wait({work}, timeout=DISCONNECT_POLL_S))[0]:
            if await http.is_disconnected():
                cancelled.set()
        return work.result()


def _event(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def build_app(engine: Engine, served_name: str) -> FastAPI:
    """The app for one model, known to its clients as ``served_name``."""
    app = FastAPI(title=f"Assay model service: {served_name}", docs_url=None, redoc_url=None)
    created = int(time.time())

    @app.exception_handler(OpenAIError)
    async def _refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, OpenAIError)
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"][1:]) or None
        return OpenAIError(400, f"{param}: {first['msg']}", param).response()

    def check(request: Sampling) -> tuple[str, float, GenerationParams]:
        if request.model != served_name:
            raise OpenAIError(
                404, f"the model {request.model!r} does not exist here", "model", "model_not_found"
            )
        return f"{uuid.uuid4().hex}", time.time(), request.generation(engine.defaults)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": served_name, "object": "model", "created": created, "owned_by": "assay"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatRequest, http: Request) -> dict[str, Any] | StreamingResponse:
        request_id, now, generation = check(request)
        prompt = engine.chat_prompt(request.messages)
        head = {"id": f"chatcmpl-{request_id}", "created": int(now), "model": served_name}
        if request.stream:

            def chunk(text: str | None, finish: str | None, role: str | None = None) -> dict[str, Any]:
                delta = {"role": role} if role else {}
                delta |= {} if text is None else {"content": text}
                choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                return {**head, "object": "chat.completion.chunk", "choices": [choice]}

            usage = bool(request.stream_options and request.stream_options.include_usage)
            events = _stream(engine, prompt, True, generation, chunk, usage, chunk("", None, "assistant"))
            return StreamingResponse(events, media_type="text/event-stream")
        answer = await _answer(http, engine, prompt, True, generation)
        message = {"role": "assistant", "content": answer.text}
        choice = {"index": 0, "message": message, "finish_reason": answer.finish_reason, "logprobs": None}
        return {**head, "object": "chat.completion", "choices": [choice], "usage": answer.usage()}

    @app.post("/v1/completions", response_model=None)
    async def complete(request: CompletionRequest, http: Request) -> dict[str, Any] | StreamingResponse:
        request_id, now, generation = check(request)
        head = {
            "id": f"cmpl-{request_id}",
            "object": "text_completion",
            "created": int(now),
            "model": served_name,
        }
        if request.stream:

            def chunk(text: str | None, finish: str | None) -> dict[str, Any]:
                choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
                return {**head, "choices": [choice]}

            usage = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(
                _stream(engine, request.text(), False, generation, chunk, usage),
                media_type="text/event-stream",
            )
        answer = await _answer(http, engine, request.text(), False, generation)
        choice = {"index": 0, "text": answer.text, "finish_reason": answer.finish_reason, "logprobs": None}
        return {**head, "choices": [choice], "usage": answer.usage()}

    return app
