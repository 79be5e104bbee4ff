"""How the provider sets up its HTTP client (aiohttp), against real servers on loopback:
connections kept alive and bounded by the concurrency, HTTPS with a certificate the system must
trust (``SSL_CERT_FILE``), and the proxies the environment names (CONNECT tunnels for https,
absolute-form requests for http) through a small real forwarding proxy; and the three ways the
fake server can end a body, so a change of client that mishandles one shows here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assay.inference import InferenceConfig
from assay.inference.prompts import Prompt
from assay.inference.providers.base import Generation
from assay.inference.providers.openai import OpenAICompatibleProvider
from tests.openai_server import OpenAIServer, Rule, self_signed_certificate

PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    handle = OpenAIServer(latency_s=0.0).start()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(certificate: tuple[Path, Path]) -> Iterator[OpenAIServer]:
    handle = OpenAIServer(latency_s=0.0, certificate=certificate).start()
    yield handle
    handle.stop()


def provider_for(base_url: str, concurrency: int = 4) -> OpenAICompatibleProvider:
    config = InferenceConfig.model_validate(
        {
            "provider": "openai-compatible",
            "model": "m",
            "base_url": base_url,
            "dataset_key": "d",
            "predictions_key": "p",
            "checkpoint_prefix": "c/",
            "options": {"concurrency": concurrency, "max_retries": 0, "timeout_s": 10},
        }
    )
    return OpenAICompatibleProvider(config, "sk-proxy-test")


async def ask(provider: OpenAICompatibleProvider, prompts: list[str]) -> list[Generation]:
    async with provider:
        batches = await asyncio.gather(*(provider.generate([Prompt(None, text)]) for text in prompts))
    return [batch[0] for batch in batches]


def test_connections_are_kept_alive_and_reused(server: OpenAIServer) -> None:
    server.control(reset=True, rules=[])
    results = asyncio.run(ask(provider_for(server.base_url, concurrency=4), [f"p{i}" for i in range(40)]))
    assert [result.text for result in results] == [f"echo: p{i}" for i in range(40)]
    assert server.stats()["connections"] <= 4


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_chunked_bodies_and_bodies_ended_by_closing_are_read_whole(
    server: OpenAIServer, framing: str
) -> None:
    server.control(reset=True, rules=[Rule(framing=framing)])  # type: ignore[arg-type]
    results = asyncio.run(ask(provider_for(server.base_url, concurrency=1), ["first", "second"]))
    assert [(result.error, result.text) for result in results] == [
        (None, "echo: first"),
        (None, "echo: second"),
    ]
    assert server.stats()["connections"] == (2 if framing == "close" else 1)  # closed ones are not reused


def test_https_needs_a_trusted_certificate(
    tls_server: OpenAIServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    [untrusted] = asyncio.run(ask(provider_for(tls_server.base_url), ["hello"]))
    assert untrusted.error is not None and "CERTIFICATE_VERIFY_FAILED" in untrusted.error

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    [trusted] = asyncio.run(ask(provider_for(tls_server.base_url), ["hello"]))
    assert trusted.error is None and trusted.text == "echo: hello"


class ForwardingProxy:
    """A real proxy: CONNECT opens a tunnel; any other request is forwarded to the host it names
    (and the rest of that connection piped through). It records the first line and the
    Proxy-Authorization header of each connection."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.port = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        auth = next(
            (line.split(": ", 1)[1] for line in lines if line.lower().startswith("proxy-authorization")), None
        )
        self.seen.append((lines[0], auth))
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
        else:
            parts = urlsplit(target)
            host, port = str(parts.hostname), str(parts.port)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream_writer.write(head)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield f"http://user:p%40ss@127.0.0.1:{self.port}"


def through_proxy(
    base_url: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Generation], ForwardingProxy]:
    proxy = ForwardingProxy()

    async def scenario() -> list[Generation]:
        async with proxy.running() as proxy_url:
            monkeypatch.setenv(variable, proxy_url)
            return await ask(provider_for(base_url, concurrency=1), ["via proxy", "again"])

    return asyncio.run(scenario()), proxy


def test_http_requests_go_through_the_proxy_in_absolute_form(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.control(reset=True, rules=[])
    results, proxy = through_proxy(server.base_url, "http_proxy", monkeypatch)
    assert [result.text for result in results] == ["echo: via proxy", "echo: again"]
    basic = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert proxy.seen == [
        (f"POST {server.base_url}/chat/completions HTTP/1.1", basic)
    ]  # one kept-alive connection


def test_https_requests_tunnel_through_the_proxy(
    tls_server: OpenAIServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    results, proxy = through_proxy(tls_server.base_url, "https_proxy", monkeypatch)
    assert [result.text for result in results] == ["echo: via proxy", "echo: again"]
    assert proxy.seen == [(f"CONNECT 127.0.0.1:{tls_server.port} HTTP/1.1", "Basic dXNlcjpwQHNz")]


def test_hosts_in_no_proxy_are_reached_directly(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    server.control(reset=True, rules=[])
    results, proxy = through_proxy(server.base_url, "http_proxy", monkeypatch)
    assert results[0].text == "echo: via proxy" and proxy.seen == []
