"""OpenAI-compatible HTTP endpoints: OpenAI, vLLM, llama.cpp server, Ollama, Mistral, DeepSeek...

Requests go through ``http11.HTTP11Pool`` (keep-alive connections, as many as requests in
flight), a purpose-built client: see its docstring for the measurements that ruled out httpx
and aiohttp.
Each request is retried on connection errors, timeouts, 408, 429 and 5xx with backoff
(``flow.Backoff``); 401, 403 and 404 stop the run (every other request would fail the same
way); any other status fails that example only. The API key is sent as a bearer token and
scrubbed from every message this module produces.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from assay.inference.config import InferenceConfig
from assay.inference.flow import AdaptiveLimiter, Backoff, parse_retry_after
from assay.inference.http11 import HTTP11Pool, HTTPConnectionError
from assay.inference.prompts import Prompt
from assay.inference.providers.base import Generation, Provider, ProviderError

FATAL_STATUSES = frozenset({401, 403, 404})
MAX_MESSAGE = 300
BODY_PARAMS = ("temperature", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty")


def _is_retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


class OpenAICompatibleProvider(Provider):
    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, api_key)
        options = config.http
        self.concurrency = options.concurrency
        api_key = api_key.strip() if api_key else None  # a secret pasted with its newline still works
        self._api_key = api_key
        self._chat = options.endpoint == "chat"
        base_url = config.resolved_base_url
        assert base_url is not None, "validated by InferenceConfig"
        self._url = f"{base_url}/chat/completions" if self._chat else f"{base_url}/completions"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "assay",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._limiter = AdaptiveLimiter(options.concurrency)
        self._backoff = Backoff(options.backoff_base_s, options.backoff_max_s, options.max_retry_after_s)
        self._max_retries = options.max_retries
        self._timeout_s = options.timeout_s
        self._connect_timeout_s = options.connect_timeout_s
        self._body = self._static_body(config)
        self._pool: HTTP11Pool | None = None
        self._counts: Counter[str] = Counter()

    @staticmethod
    def _static_body(config: InferenceConfig) -> dict[str, Any]:
        """The request fields shared by every prompt, computed once."""
        params = config.generation.explicit()
        body: dict[str, Any] = {"model": config.model, "max_tokens": params["max_new_tokens"]}
        body.update({name: params[name] for name in BODY_PARAMS if name in params})
        body.update(params.get("extra", {}))
        return body

    @property
    def limiter(self) -> AdaptiveLimiter:
        return self._limiter

    async def start(self) -> None:
        self._pool = HTTP11Pool(self._url, self._headers, self._connect_timeout_s)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def stats(self) -> dict[str, int]:
        return dict(self._counts)

    async def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        return [await self._complete(prompt) for prompt in prompts]

    def _payload(self, prompt: Prompt) -> bytes:
        body = dict(self._body)
        if self._chat:
            messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
            messages.append({"role": "user", "content": prompt.user})
            body["messages"] = messages
        else:
            body["prompt"] = f"{prompt.system}\n\n{prompt.user}" if prompt.system else prompt.user
        return json.dumps(body).encode()

    async def _complete(self, prompt: Prompt) -> Generation:
        assert self._pool is not None, "start() first"
        payload = self._payload(prompt)
        failure = ""
        for attempt in range(self._max_retries + 1):
            if attempt:
                self._counts["retries"] += 1
            granted_at = await self._limiter.acquire()
            status, retry_after = 0, None
            try:
                self._counts["requests"] += 1
                async with asyncio.timeout(self._timeout_s):
                    response = await self._pool.post(payload)
                status, body = response.status, response.body
                if status != 200:
                    retry_after = parse_retry_after(response.headers)
            except HTTPConnectionError as exc:
                failure = self._redact(f"connection failed: {exc}")
                self._counts["connection_errors"] += 1
            except TimeoutError:
                failure = f"no response within {self._timeout_s:g}s"
                self._counts["timeouts"] += 1
            finally:
                self._limiter.release()
            latency_ms = (time.monotonic() - granted_at) * 1000
            if status == 200:
                self._limiter.on_success()
                return self._parse(body, latency_ms)
            if status:
                failure = f"HTTP {status}: {self._error_message(body)}"
                self._counts[f"status_{status}"] += 1
                if status == 429:
                    self._limiter.on_rate_limited(granted_at)
                if status in FATAL_STATUSES:
                    raise ProviderError(f"{self._url} refused the request ({failure})")
                if not _is_retryable(status):
                    return Generation(error=failure, latency_ms=latency_ms)
            if attempt < self._max_retries:
                await asyncio.sleep(self._backoff.delay(attempt, retry_after))
        return Generation(error=f"gave up after {self._max_retries + 1} attempts; last: {failure}")

    def _parse(self, body: bytes, latency_ms: float) -> Generation:
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            if self._chat:
                message = choice["message"]
                text = message.get("content") or ""
                reasoning = message.get("reasoning_content") or message.get("reasoning")
            else:
                text, reasoning = choice.get("text") or "", None
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return Generation(
                error=f"malformed response ({type(exc).__name__}): {self._excerpt(body)}",
                latency_ms=latency_ms,
            )
        return Generation(
            text=text,
            reasoning=reasoning if isinstance(reasoning, str) else None,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_ms=latency_ms,
        )

    def _error_message(self, body: bytes) -> str:
        """The server's own explanation (``{"error": {"message": ...}}`` and variants) or the raw body."""
        try:
            data = json.loads(body)
        except ValueError:
            return self._excerpt(body)
        error = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
        if isinstance(error, dict):
            error = error.get("message", error)
        return self._redact(str(error)[:MAX_MESSAGE])

    def _excerpt(self, body: bytes) -> str:
        return self._redact(body[:MAX_MESSAGE].decode("utf-8", "replace"))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text
