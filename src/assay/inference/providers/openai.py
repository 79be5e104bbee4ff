"""OpenAI-compatible HTTP endpoints: OpenAI, vLLM, llama.cpp server, Ollama, Mistral, DeepSeek...

Requests go through one ``aiohttp`` session per run: keep-alive connections, at most
``http.concurrency`` of them (the bound the AIMD limiter starts from, so a request granted a slot
never waits for a connection), TLS verified against the system CAs (``SSL_CERT_FILE`` honoured),
and the proxies ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` name (CONNECT tunnels for https).
Against a 50 ms endpoint at concurrency 64 it reaches about 90% of the ideal throughput on a
loaded 2-core machine; ``benchmarks/inference.py`` measures it beside the official ``openai``
client. Real endpoints answer in hundreds of milliseconds, where client CPU does not show.

Each request is retried on connection errors, timeouts, 408, 429 and 5xx with backoff
(``flow.Backoff``); 401, 403 and 404 stop the run (every other request would fail the same
way); any other status fails that example only. The API key is sent as a bearer token and
scrubbed from every message this module produces; the messages keep the wording
``jobs.failure`` turns into sentences ("cannot connect to", "no response within", "HTTP 429").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from pydantic import Field
from yarl import URL

from assay.inference.config import InferenceConfig, ModelChoice
from assay.inference.flow import AdaptiveLimiter, Backoff, parse_retry_after
from assay.inference.prompts import Prompt
from assay.inference.providers.base import (
    COMMON_PARAMS,
    Generation,
    JobRequest,
    Provider,
    ProviderError,
    ProviderOptions,
)

FATAL_STATUSES = frozenset({401, 403, 404})
MAX_MESSAGE = 300
BODY_PARAMS = ("temperature", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty")
# Every name registered for this class: a hosted service's own endpoint, or None for a server
# the request must name (``base_url``).
ENDPOINTS: dict[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "ollama": "http://localhost:11434/v1",
    "llamafile": "http://localhost:8080/v1",
    "openai-compatible": None,
    "vllm": None,
    "llama.cpp": None,
}


class HTTPOptions(ProviderOptions):
    """OpenAI-compatible endpoints: concurrency bound, timeouts and the retry policy."""

    concurrency: int = Field(32, ge=1, le=1024, description="most requests in flight (AIMD lowers it on 429)")
    timeout_s: float = Field(120.0, gt=0, description="whole-request timeout")
    connect_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(6, ge=0, le=20)
    backoff_base_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    max_retry_after_s: float = Field(120.0, ge=0, description="longest retry-after wait honoured")
    endpoint: Literal["chat", "completions"] = "chat"


def _is_retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _connection_failure(exc: aiohttp.ClientError) -> str:
    """What went wrong below HTTP, in the words ``jobs.failure`` reads (``aiohttp``'s own
    messages name ``ssl:default`` even when TLS is not involved)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection closed before the response was complete"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the connection closed before the response was complete: {exc}"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy refused the tunnel: {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"malformed HTTP response: {exc.message}"
    return str(exc) or type(exc).__name__


class OpenAICompatibleProvider(Provider):
    Options = HTTPOptions
    family = "openai-compatible"
    params = COMMON_PARAMS | {"frequency_penalty", "presence_penalty"}

    @classmethod
    def default_base_url(cls, name: str) -> str | None:
        return ENDPOINTS.get(name)

    @classmethod
    def needs_base_url(cls, name: str) -> bool:
        return ENDPOINTS.get(name) is None

    @classmethod
    def request_options(cls, request: JobRequest) -> dict[str, Any]:
        return {"concurrency": request.max_concurrency}

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        assert isinstance(config.options, HTTPOptions)
        return {"endpoint": config.options.endpoint}

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, api_key)
        options = config.options
        assert isinstance(options, HTTPOptions), "validated by InferenceConfig"
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
        self._session: aiohttp.ClientSession | None = None
        self._proxy: URL | None = None
        self._proxy_headers: dict[str, str] | None = None
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
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            limit_per_host=self.concurrency,
            # Built now, not at import: a certificate bundle named by SSL_CERT_FILE is read.
            ssl=ssl.create_default_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout_s, sock_connect=self._connect_timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),  # an inference API sets none worth keeping
            skip_auto_headers=("Accept-Encoding",),  # completions are small JSON: no decompression
        )
        # The environment's proxy for this URL, looked up once: ``trust_env`` would read the
        # environment and ~/.netrc again for every request, a tenth of the client's CPU here.
        url = URL(self._url)
        with contextlib.suppress(LookupError):
            self._proxy, auth = get_env_proxy_for_url(url)
            if auth is not None:  # an https request's CONNECT carries it; an http one, itself
                credentials = {"Proxy-Authorization": auth.encode()}
                if url.scheme == "https":
                    self._proxy_headers = credentials
                else:
                    self._headers.update(credentials)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        session = self._session
        assert session is not None, "start() first"
        payload = self._payload(prompt)
        failure = ""
        for attempt in range(self._max_retries + 1):
            if attempt:
                self._counts["retries"] += 1
            granted_at = await self._limiter.acquire()
            status, retry_after = 0, None
            try:
                self._counts["requests"] += 1
                async with session.post(
                    self._url,
                    data=payload,
                    headers=self._headers,
                    proxy=self._proxy,
                    proxy_headers=self._proxy_headers,
                ) as response:
                    status, body = response.status, await response.read()
                    if status != 200:
                        retry_after = parse_retry_after(response.headers)
            except aiohttp.ConnectionTimeoutError:
                failure = f"connection failed: connecting to {self._url} timed out"
                self._counts["connection_errors"] += 1
            except TimeoutError:
                failure = f"no response within {self._timeout_s:g}s"
                self._counts["timeouts"] += 1
            except aiohttp.ClientError as exc:
                failure = self._redact(f"connection failed: {_connection_failure(exc)}")
                self._counts["connection_errors"] += 1
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
