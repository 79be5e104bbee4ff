"""How a job entrypoint reaches Assay: it trades the claim token in its environment for a
session token at the internal job API, then reads, writes and asks for its provider key
there. The session token lives only in this process's memory; the claim token is removed from
the environment at once, so nothing the job starts inherits either."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass

import httpx

from assay.jobs.environment import API_URL_ENV, CLAIM_ENV
from assay.storage.job_api import JobApiStore, send

TIMEOUT = httpx.Timeout(300.0, connect=10.0)
RETRIES = 3


@dataclass(frozen=True)
class JobConnection:
    store: JobApiStore
    env_names: tuple[str, ...]

    def api_key(self) -> str | None:
        """The provider key named in the job's config, or ``None`` when it names none."""
        try:
            response = self.store.request("GET", "secret", "secret")
        except KeyError:
            return None
        return str(response.json()["value"])


def connect(environ: MutableMapping[str, str] = os.environ) -> JobConnection | None:
    """Claim this job's credential, or ``None`` when the environment carries none (an
    entrypoint started by hand with storage settings)."""
    url = environ.get(API_URL_ENV)
    claim = environ.pop(CLAIM_ENV, None)
    if not url or not claim:
        return None
    base = f"{url.rstrip('/')}/api/v1/job/"
    transport = httpx.HTTPTransport(retries=RETRIES)
    with httpx.Client(base_url=base, timeout=TIMEOUT, transport=transport) as client:
        try:
            response = send(
                client, "POST", "claim", idempotent=False, headers={"Authorization": f"Bearer {claim}"}
            )
        except httpx.HTTPError as exc:
            hint = "ASSAY_JOB_API_URL must be an address that workers can reach"
            raise ConnectionError(f"the job API at {url} is unreachable ({hint}): {exc}") from exc
    if response.status_code != 200:
        detail = f"{response.status_code} {response.text[:300]}"
        raise PermissionError(f"the job API at {url} refused this job's claim: {detail}")
    body = response.json()
    session = httpx.Client(
        base_url=base,
        timeout=TIMEOUT,
        transport=httpx.HTTPTransport(retries=RETRIES),
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    return JobConnection(JobApiStore(session), tuple(body["env_names"]))
