"""What of the server's environment a job receives: an explicit allow-list, nothing else.

Jobs run code that users control, so they get no ``ASSAY_*`` setting of the server (admin
password, master key, database URL, storage credentials) and nothing the server's process
happens to hold. What a job needs on purpose passes by name: model caches, offline switches,
proxies and CA bundles, the GPUs to use, and the names an operator adds with
``ASSAY_JOB_ENV_ALLOW``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from assay.compute.environment import ALLOWED

# What any command expects of a process environment; none of it is a credential.
BASICS = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
SERVER_PREFIX = "ASSAY_"
API_URL_ENV = "ASSAY_JOB_API_URL"
CLAIM_ENV = "ASSAY_JOB_CLAIM_TOKEN"
WORKER_ENV = "ASSAY_JOB_WORKER_TOKEN"
SERVICE_CLAIM_ENV = "ASSAY_SERVICE_CLAIM_TOKEN"


def allowed_names(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The allow-list plus ``extra``; names of server settings are never allowed."""
    names = dict.fromkeys((*ALLOWED, *extra))
    return tuple(name for name in names if not name.upper().startswith(SERVER_PREFIX))


def passed_env(environ: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The variables of ``environ`` named in the allow-list (with ``names`` added)."""
    return {name: environ[name] for name in allowed_names(names) if name in environ}


def script_env(environ: Mapping[str, str], names: Iterable[str], own: Mapping[str, str]) -> dict[str, str]:
    """A user command's environment from a clean base: basics, the allow-list, then the
    job's own variables. Never the entrypoint's whole environment, which holds the job's
    credential and whatever the engine's worker inherited."""
    base = {name: environ[name] for name in BASICS if name in environ}
    return {**base, **passed_env(environ, names), **own}
