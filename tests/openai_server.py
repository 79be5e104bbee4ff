"""A real OpenAI-compatible HTTP server on loopback, for tests and benchmarks of the inference client.

It answers ``POST /v1/chat/completions`` and ``POST /v1/completions`` after a fixed latency,
echoing the last user message (deterministic, with ``usage`` counted in words), and counts
every request it receives server-side (per prompt, peak in flight, shortest wait between two
requests for the same prompt), so that "no request was sent twice" and "retry-after was
honoured" are checked where the requests arrive rather than trusted from the client.

Misbehaviour is scripted with *rules*: the first rule whose ``match`` occurs in the prompt
(and whose ``times`` budget for that prompt is not used up) decides the answer: a status code
(429 with ``retry-after``, 500...), an extra delay (to provoke client timeouts) or another
reply (``<think>`` blocks...). Control endpoints: ``GET /_stats``, ``POST /_control``.

It runs in its own process as a bare asyncio protocol (uvloop, httptools' parser, one write
per response) rather than an ASGI app under uvicorn, which writes headers and body separately
and costs several times the CPU per request: the benchmark needs this server to answer well
over a thousand requests a second on a shared 2-core machine without being what it measures.
HTTP/1.1 with keep-alive; no pipelining (clients wait for each response, as Assay's does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httpx

from tests.servers import REPOSITORY, ManagedProcess, free_port

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
Framing = Literal["length", "chunked", "close"]
Respond = Callable[[int, dict[str, Any], list[tuple[str, str]], Framing], None]


@dataclass
class Rule:
    """How to answer prompts that contain ``match`` ("" matches every prompt).

    ``times`` limits the rule to the first N requests of each matching prompt (``None``: all).
    ``framing`` is how the body's end is marked: Content-Length, chunks, or closing the
    connection (HTTP/1.0 style).
    """

    match: str = ""
    times: int | None = None
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    reply: str | None = None
    framing: Literal["length", "chunked", "close"] = "length"


@dataclass
class ServerState:
    latency_s: float = 0.05
    rules: list[Rule] = field(default_factory=list)
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    per_prompt: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    authorization: Counter[str] = field(default_factory=Counter)
    last_arrival: dict[str, float] = field(default_factory=dict)
    connections: int = 0
    min_retry_gap_s: float | None = None

    def reset(self) -> None:
        self.requests = self.peak_in_flight = self.connections = 0
        self.min_retry_gap_s = None
        self.last_arrival.clear()
        self.per_prompt.clear()
        self.statuses.clear()
        self.authorization.clear()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "distinct_prompts": len(self.per_prompt),
            "max_requests_per_prompt": max(self.per_prompt.values(), default=0),
            "peak_in_flight": self.peak_in_flight,
            "in_flight": self.in_flight,
            "statuses": {str(code): count for code, count in self.statuses.items()},
            "authorization": dict(self.authorization),
            "min_retry_gap_s": self.min_retry_gap_s,
            "connections": self.connections,
        }

    def arrived(self, prompt: str) -> None:
        """Count a request, and the shortest wait between two requests for the same prompt."""
        now = time.monotonic()
        if prompt in self.last_arrival:
            gap = now - self.last_arrival[prompt]
            self.min_retry_gap_s = gap if self.min_retry_gap_s is None else min(self.min_retry_gap_s, gap)
        self.last_arrival[prompt] = now
        self.requests += 1
        self.per_prompt[prompt] += 1

    def rule_for(self, prompt: str, attempt: int) -> Rule | None:
        for rule in self.rules:
            if rule.match in prompt and (rule.times is None or attempt <= rule.times):
                return rule
        return None


def _prompt_of(body: dict[str, Any], chat: bool) -> str:
    if not chat:
        return str(body.get("prompt", ""))
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _completion(body: dict[str, Any], chat: bool, prompt: str, reply: str) -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    usage = {
        "prompt_tokens": prompt_words if chat else len(prompt.split()),
        "completion_tokens": len(reply.split()),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
    if chat:
        choice["message"] = {"role": "assistant", "content": reply}
    else:
        choice["text"] = reply
    return {
        "id": "cmpl-test",
        "object": "chat.completion" if chat else "text_completion",
        "model": body.get("model", ""),
        "choices": [choice],
        "usage": usage,
    }


class OpenAICompatibleHandler:
    """Routes one parsed request to its answer; holds the counters for the server's lifetime.

    Answers are scheduled with ``call_later`` rather than a task sleeping per request: the
    cheapest way for a Python server to wait 50 ms for a thousand requests a second.
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def handle(
        self, method: str, path: str, headers: dict[bytes, bytes], body: bytes, respond: Respond
    ) -> None:
        if method == "GET" and path == "/_stats":
            respond(200, self.state.stats(), [], "length")
        elif method == "POST" and path == "/_control":
            self._control(json.loads(body or b"{}"))
            respond(200, self.state.stats(), [], "length")
        elif method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            self._complete(json.loads(body), path.endswith("chat/completions"), headers, respond)
        else:
            respond(404, {"error": {"message": f"no route {method} {path}"}}, [], "length")

    def _complete(
        self, body: dict[str, Any], chat: bool, headers: dict[bytes, bytes], respond: Respond
    ) -> None:
        state = self.state
        prompt = _prompt_of(body, chat)
        state.arrived(prompt)
        authorization = headers.get(b"authorization", b"").decode()
        state.authorization[authorization] += 1
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        rule = state.rule_for(prompt, state.per_prompt[prompt])
        delay = state.latency_s + (rule.delay_s if rule else 0.0)
        asyncio.get_running_loop().call_later(
            delay, self._answer, body, chat, prompt, rule, authorization, respond
        )

    def _answer(
        self,
        body: dict[str, Any],
        chat: bool,
        prompt: str,
        rule: Rule | None,
        authorization: str,
        respond: Respond,
    ) -> None:
        state = self.state
        state.in_flight -= 1
        status = rule.status if rule else 200
        state.statuses[status] += 1
        if status != 200:
            extra = [("retry-after", rule.retry_after)] if rule and rule.retry_after else []
            # Like real APIs, a 401 quotes the credentials back: clients must not pass that on.
            message = (
                f"invalid credentials: {authorization}" if status == 401 else f"scripted status {status}"
            )
            respond(status, {"error": {"message": message}}, extra, "length")
            return
        reply = (rule.reply if rule and rule.reply is not None else "echo: {prompt}").format(prompt=prompt)
        respond(200, _completion(body, chat, prompt, reply), [], rule.framing if rule else "length")

    def _control(self, command: dict[str, Any]) -> None:
        if command.get("reset"):
            self.state.reset()
        if "latency_s" in command:
            self.state.latency_s = float(command["latency_s"])
        if "rules" in command:
            self.state.rules = [Rule(**rule) for rule in command["rules"]]


class HTTPConnection(asyncio.Protocol):
    """One keep-alive connection: parse each request with httptools, answer it in one write."""

    def __init__(self, handler: OpenAICompatibleHandler) -> None:
        import httptools

        self.handler = handler
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        path = urlsplit(self.url.decode()).path  # absolute-form targets too, as proxies send them
        if not self.counted and path.startswith("/v1/"):
            self.counted = True
            self.handler.state.connections += 1  # connections used by clients, not by /_stats calls
        self.handler.handle(method, path, self.headers, b"".join(self.body), self.respond)

    def respond(
        self, status: int, payload: dict[str, Any], extra: list[tuple[str, str]], framing: Framing
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the client gave up (timed out) meanwhile
        data = json.dumps(payload).encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", "content-type: application/json"]
        head += [f"{name}: {value}" for name, value in extra]
        if framing == "length":
            head.append(f"content-length: {len(data)}")
        elif framing == "chunked":
            head.append("transfer-encoding: chunked")
            half = len(data) // 2
            data = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (data[:half], data[half:], b""))
        else:
            head.append("connection: close")
        self.transport.write("\r\n".join(head).encode() + b"\r\n\r\n" + data)
        if framing == "close":
            self.transport.close()


async def serve(port: int, latency_s: float, tls: ssl.SSLContext | None = None) -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    handler = OpenAICompatibleHandler(ServerState(latency_s=latency_s))
    server = await loop.create_server(
        lambda: HTTPConnection(handler), "127.0.0.1", port, backlog=4096, ssl=tls
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1, valid for a day: its own CA, for HTTPS tests."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class OpenAIServer:
    """Handle on a server process: ``start()``, then ``base_url`` for clients, ``stop()`` at the end."""

    latency_s: float = 0.05
    port: int = 0
    certificate: tuple[Path, Path] | None = None  # (cert, key) PEM files: serve HTTPS
    server: ManagedProcess | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.certificate else 'http'}://127.0.0.1:{self.port}"

    @property
    def _verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.certificate[0]) if self.certificate else True

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> OpenAIServer:
        self.port = self.port or free_port()
        command = [sys.executable, "-m", __name__, "--port", str(self.port), "--latency", str(self.latency_s)]
        if self.certificate:
            command += ["--cert", str(self.certificate[0]), "--key", str(self.certificate[1])]
        # Run as ``tests.openai_server``: the repository root must be importable.
        path = os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "PYTHONPATH": path}
        log = Path(tempfile.gettempdir()) / f"assay-openai-server-{self.port}.log"
        self.server = ManagedProcess(command, log, env=env, grace_s=10)
        self.server.start(self._answers, 30, "OpenAI-compatible test server")
        return self

    def _answers(self) -> bool:
        return httpx.get(f"{self.url}/_stats", timeout=2, verify=self._verify).status_code == 200

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/_stats", timeout=10, verify=self._verify)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def control(
        self, *, reset: bool = True, latency_s: float | None = None, rules: list[Rule] | None = None
    ) -> dict[str, Any]:
        """Reset the counters (by default) and replace the latency and the rules (when given)."""
        command: dict[str, Any] = {"reset": reset}
        if latency_s is not None:
            command["latency_s"] = latency_s
        if rules is not None:
            command["rules"] = [rule.__dict__ for rule in rules]
        response = httpx.post(f"{self.url}/_control", json=command, timeout=10, verify=self._verify)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def main() -> None:
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--cert", type=Path, help="PEM certificate: serve HTTPS")
    parser.add_argument("--key", type=Path)
    args = parser.parse_args()
    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    uvloop.run(serve(args.port, args.latency, tls))


if __name__ == "__main__":
    main()
