"""Where a secret may be sent: the one decision, for job submission and for a running job
that fetches its key.

A secret lists the hosts or base URLs it may go to (``allowed_hosts``). One that lists none
may go only to the provider's own host (``openai`` → api.openai.com), so a key stored for a
hosted provider cannot be pointed at a server that would record it; with a provider that has
no host of its own (``openai-compatible``, ``vllm``...) it then goes nowhere. The entry ``*``
lets it go anywhere, and is the only way it reaches code that users run (a service), which
can send it anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from assay.errors import AssayError, InvalidInputError

if TYPE_CHECKING:
    from assay.inference.providers.base import Provider

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ENTRIES = 32
ANYWHERE = "*"
HOST_NAME = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # a DNS name or IPv4, or IPv6 (unbracketed)


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """An ``http(s)://host[:port][/path]`` URL; ``ValueError`` for anything else."""
        parts = urlsplit(url.strip())
        host = _host(parts.hostname)
        if parts.scheme not in DEFAULT_PORTS or host is None or "@" in parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL with a host and no credentials")
        return cls(
            parts.scheme,
            host,
            parts.port or DEFAULT_PORTS[parts.scheme],
            parts.path.rstrip("/"),
        )


def _host(hostname: str | None) -> str | None:
    """``urlsplit``'s (lowercased) host name, if it is a DNS name or an IP address."""
    return hostname if hostname is not None and HOST_NAME.fullmatch(hostname) else None


def normalize_entry(entry: str) -> str:
    """One ``allowed_hosts`` entry, checked: a host (``api.example.com``, ``10.0.0.5:8000``)
    or a base URL (``https://gw.example.com/v1``), or ``*`` (anywhere); ``ValueError`` says
    what is wrong."""
    entry = entry.strip()
    if entry == ANYWHERE:
        return entry
    if "://" in entry:
        Endpoint.parse(entry)
        parts = urlsplit(entry)
        if parts.query or parts.fragment:
            raise ValueError(f"{entry!r}: a base URL has no query or fragment")
        return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    parts = urlsplit(f"//{entry}")
    if _host(parts.hostname) is None or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{entry!r} is neither a host (name or name:port) nor an http(s) base URL")
    _ = parts.port  # raises ValueError for a port out of range
    return entry.lower()


def _matches(entry: str, target: Endpoint) -> bool:
    if entry == ANYWHERE:
        return True
    if "://" in entry:
        allowed = Endpoint.parse(entry)
        return (allowed.scheme, allowed.host, allowed.port) == (target.scheme, target.host, target.port) and (
            target.path == allowed.path or target.path.startswith(f"{allowed.path}/")
        )
    parts = urlsplit(f"//{entry}")
    return parts.hostname == target.host and (parts.port is None or parts.port == target.port)


def _provider(provider: str) -> type[Provider] | None:
    # Imported here: the secret schemas (and so the Python client) use this module's
    # validation, and the inference package brings storage, boto3 and pyarrow with it.
    from assay.inference.registry import provider_class

    try:
        return provider_class(provider)
    except AssayError:
        return None


def destination(provider: str, base_url: str | None) -> str | None:
    """The URL a job of ``provider`` sends its key to (the provider says: the Hugging Face
    hub for local models, nowhere for the mock); None when the key goes nowhere."""
    found = _provider(provider)
    return found.key_destination(provider, base_url) if found is not None else base_url


def provider_hosts(provider: str) -> list[str]:
    """The hosts a secret that lists none may go to: the provider's own, if it has one."""
    found = _provider(provider)
    home = found.home_url(provider) if found is not None else None
    return [Endpoint.parse(home).host] if home else []


def check_destination(
    secret_name: str,
    allowed_hosts: Sequence[str] | None,
    provider: str,
    base_url: str | None,
    *,
    field: str = "job_config.secret_key_name",
) -> None:
    """Refuse (422 naming ``field`` and the host) to send a secret where it may not go."""
    url = destination(provider, base_url)
    if url is None:
        return
    try:
        target = Endpoint.parse(url)
    except ValueError:
        raise InvalidInputError(
            f"secret {secret_name!r} cannot be sent to {url!r}: not an http(s) URL", field=field
        ) from None
    allowed = list(allowed_hosts or ()) or provider_hosts(provider)
    if any(_matches(entry, target) for entry in allowed):
        return
    listed = ", ".join(allowed) if allowed else "none"
    raise InvalidInputError(
        f"secret {secret_name!r} may not be sent to {target.host} (allowed: {listed}); "
        "an editor can add the host to the secret's allowed_hosts",
        field=field,
    )


def check_release_to_code(secret_name: str, allowed_hosts: Sequence[str] | None, *, field: str) -> None:
    """Refuse (422 naming ``field``) to hand a secret to code that users run, which may send it
    anywhere, unless its list says it may go anywhere."""
    if ANYWHERE not in (allowed_hosts or ()):
        listed = ", ".join(allowed_hosts or ()) or "its provider's own host"
        raise InvalidInputError(
            f"secret {secret_name!r} may be sent only to {listed}, and a service's code could send it "
            f"anywhere: an editor can add '{ANYWHERE}' to the secret's allowed_hosts",
            field=field,
        )
