"""Job credentials: a claim token (in the job's environment, good once) and the session token
it is traded for (only in the job's memory); and a warm worker's token, which takes built-in
jobs to run (``assay.jobs.pool``). Random, 256 bits, stored as SHA-256 hashes.

Their prefixes let logs be scrubbed of them without knowing the values: the server keeps only
hashes, so a pattern is the one way to recognise a token that a job printed."""

from __future__ import annotations

import re
import secrets

CLAIM_PREFIX = "assay_jobclaim_"
SESSION_PREFIX = "assay_jobsession_"
WORKER_PREFIX = "assay_jobworker_"
PATTERN = re.compile(r"assay_job(?:claim|session|worker)_[A-Za-z0-9_-]+")
REDACTED = "<REDACTED>"


def new_claim_token() -> str:
    return CLAIM_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_worker_token() -> str:
    return WORKER_PREFIX + secrets.token_urlsafe(32)


def redact_job_tokens(text: str) -> str:
    return PATTERN.sub(REDACTED, text)
