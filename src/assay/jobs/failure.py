"""Why a job failed, in one sentence a person can act on.

A job's ``status_reason`` used to be the engine's message: a Python traceback with the cause on
its last line. Now the entrypoint catches the exception that ends the run, writes its cause in
words to ``failure.json`` beside the job's results, and re-raises, so the traceback still goes
to the job's logs (and only there). The reconciler turns that file into ``status_reason``; a job
that died before it could write one (killed, out of memory, crashed interpreter) gets the last
line of the engine's message instead of the whole of it.

The sentences come from the messages Assay's own inference client writes (``providers.openai``,
which words aiohttp's errors itself, and ``inference.runner``), so matching their wording here is
matching a contract inside this repository, not guessing at a third party's text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assay.storage import ObjectStore
from assay.storage.layout import FAILURE_FILE, result_key

MAX_REASON = 600
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_MISSING_FIELD = re.compile(r'Field "(.+?)" does not exist')
_EXIT_CODE = re.compile(r"^Job entrypoint command failed with exit code (-?\d+)")
_FAILED_SHARE = re.compile(r"^(\d+ of \d+ examples failed)")
_CONSECUTIVE = re.compile(r"^stopped after (\d+) consecutive failed examples")
_REFUSED = ("connection refused", "connect call failed", "errno 111", "errno 61")
_UNRESOLVED = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "errno -2",
    "errno -3",
    "errno -5",
)
_TLS = ("certificate verify failed", "[ssl", "ssl:", "tls handshake", "wrong version number")
_TIMEOUT = ("timed out", "no response within")
_STATUS_SENTENCES = {
    401: "rejected the API key (HTTP 401): check the secret named by secret_key_name",
    403: "denied access (HTTP 403): the API key lacks the permission or the model is not enabled for it",
    404: "answered 404 Not Found: check the model name and base_url (it usually ends in /v1)",
    429: "kept rate-limiting the requests (HTTP 429) through every retry",
}


def describe_endpoint_error(message: str, endpoint: str, role: str = "model endpoint") -> str | None:
    """The sentence for an error of the inference client talking to ``endpoint``; ``None``
    when ``message`` is not about the endpoint."""
    lowered = message.lower()
    where = f"{role} {endpoint}"
    if status := _HTTP_STATUS.search(message):  # an HTTP answer: the connection itself worked
        code = int(status.group(1))
        if code in _STATUS_SENTENCES:
            return f"{where} {_STATUS_SENTENCES[code]}"
        if code >= 500:
            return f"{where} kept failing with HTTP {code} through every retry (a server-side error)"
        return f"{where} refused the request with HTTP {code}: {_after(message, status.group(0))}"
    if any(marker in lowered for marker in _REFUSED):
        return f"{where} refused the connection: is the server running, and is base_url right?"
    if any(marker in lowered for marker in _UNRESOLVED):
        return f"{where} cannot be reached: its host name does not resolve (check base_url)"
    if any(marker in lowered for marker in _TLS):
        return f"{where} failed the TLS handshake (certificate or protocol): {_first_line(message)}"
    if any(marker in lowered for marker in _TIMEOUT):
        return f"{where} did not answer in time ({_first_line(message)})"
    if "malformed response" in lowered or "malformed http response" in lowered:
        return f"{where} answered something that is not an OpenAI-compatible completion"
    if "connection failed" in lowered or "closed before the response" in lowered:
        return f"{where} dropped the connection: {_first_line(message)}"
    return None


def describe(exc: BaseException, endpoint: str | None = None, role: str = "model endpoint") -> str:
    """One line: what went wrong, in words, with what to check where that is known."""
    message = _first_line(str(exc)) or type(exc).__name__
    if isinstance(exc, ImportError):
        return _clip(f"a package the job needs is not installed where it runs: {message}")
    if isinstance(exc, MemoryError):
        return "the job ran out of memory: lower batch_size or max_samples, or give the job more memory"
    if isinstance(exc, KeyError) and (missing := _MISSING_FIELD.search(message)):
        return _clip(f"the dataset has no {missing.group(1)!r} column, which this job needs")
    if endpoint is not None and (sentence := describe_endpoint_error(str(exc), endpoint, role)):
        return _clip(_with_share(message, sentence))
    if _is_domain_error(exc):
        return _clip(message)
    return _clip(f"the job failed: {type(exc).__name__}: {message}")


def describe_engine_message(message: str | None) -> str:
    """The cause in an engine's failure message that has no ``failure.json`` behind it: the
    last line of the traceback it quotes, or its first line when it quotes none."""
    if not message or not message.strip():
        return "the job failed without saying why; see its logs"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    traceback = any(line.startswith("Traceback (most recent call last)") for line in lines)
    if exit_code := _EXIT_CODE.match(lines[0]):
        cause = f": {lines[-1]}" if traceback else ""
        return _clip(f"the job's command exited with code {exit_code.group(1)}{cause} (see its logs)")
    return _clip(f"the job failed: {lines[-1]}" if traceback else lines[0])


def failure_key(results_prefix: str) -> str:
    return result_key(results_prefix, FAILURE_FILE)


def write_failure(store: ObjectStore, results_prefix: str, reason: str) -> None:
    writer = store.open_writer(failure_key(results_prefix), "application/json")
    writer.write(json.dumps({"reason": reason}).encode())
    writer.commit()


def read_reason(store: ObjectStore, results_prefix: str | None, engine_message: str | None) -> str:
    """The job's ``status_reason``: the sentence its entrypoint wrote, else the engine's cause."""
    if results_prefix:
        try:
            with store.open_reader(failure_key(results_prefix)) as reader:
                reason = json.loads(reader.read()).get("reason")
            if isinstance(reason, str) and reason:
                return reason
        except (KeyError, ValueError):
            pass
    return describe_engine_message(engine_message)


def endpoint_of(kind: str, config: dict[str, Any]) -> tuple[str | None, str]:
    """The endpoint a job talks to, and what it is to the user (the model, or the judge)."""
    if kind == "evaluator":
        judge = config.get("llm_as_judge") or {}
        return judge.get("model_base_url"), "judge endpoint"
    base_url = config.get("base_url")
    if base_url is None and config.get("provider"):
        from assay.inference.registry import provider_class

        name = str(config["provider"])
        try:
            base_url = provider_class(name).default_base_url(name)
        except Exception:
            base_url = None
    return base_url, "model endpoint"


@contextmanager
def recorded(store: ObjectStore, kind: str, config: dict[str, Any], results_prefix: str) -> Iterator[None]:
    """Write the readable cause of an exception leaving the block, then let it go on (its
    traceback belongs in the logs)."""
    try:
        yield
    except Exception as exc:
        endpoint, role = endpoint_of(kind, config)
        write_failure(store, results_prefix, describe(exc, endpoint, role))
        raise


def _is_domain_error(exc: BaseException) -> bool:
    from assay.errors import AssayError

    return isinstance(exc, AssayError)


def _with_share(message: str, sentence: str) -> str:
    """Keep how much of the run failed, which the runner's message starts with."""
    if share := _FAILED_SHARE.match(message):
        return f"{sentence} ({share.group(1)})"
    if consecutive := _CONSECUTIVE.match(message):
        return f"{sentence} (stopped after {consecutive.group(1)} consecutive failed examples)"
    return sentence


def _after(message: str, marker: str) -> str:
    return _first_line(message.split(marker, 1)[1].lstrip(": )")) or marker


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
