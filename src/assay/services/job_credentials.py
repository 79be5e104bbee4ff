"""Job credentials: minted at submission, traded once, dead when the job ends.

A job reaches Assay only through its internal job API, with a token scoped to that one job.
The claim token rides in the job's runtime environment, which the engine shows on its
dashboard and writes to its logs; the first thing the job does is trade it for a session
token that it keeps in memory, so a claim token read later is useless.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from assay.errors import AuthenticationError
from assay.records import JobCredentialRecord, JobRecord, JobStatus
from assay.records.base import utcnow
from assay.repositories.job_credentials import JobCredentialRepository
from assay.repositories.jobs import JobRepository
from assay.security.job_tokens import CLAIM_PREFIX, SESSION_PREFIX, new_claim_token, new_session_token
from assay.security.tokens import token_hash

INVALID = "the job credential is invalid, already used, or its job has ended"


def credential_active(job: JobRecord, claiming: bool = False) -> bool:
    """A job's tokens work while it may still run. Once a stop is asked for, no job starts
    (a claim is refused), but one that runs keeps its session until it has ended: a job saves
    its checkpoint and its response cache on the way out, so that a retry repeats nothing."""
    return not JobStatus(job.status).finished and not (claiming and job.stop_requested)


class JobCredentials:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.credentials = JobCredentialRepository(session)

    def mint(self, job_id: uuid.UUID) -> str:
        """A new claim token for the job (the caller commits); only its hash is kept."""
        token = new_claim_token()
        self.credentials.issue(job_id, token_hash(token))
        return token

    def issued(self, job_id: uuid.UUID) -> bool:
        return self.session.get(JobCredentialRecord, job_id) is not None

    def claim(self, claim_token: str) -> tuple[JobRecord, str]:
        """The job and a new session token, in exchange for the unused claim token."""
        if not claim_token.startswith(CLAIM_PREFIX):
            raise AuthenticationError(INVALID)
        session_token = new_session_token()
        job_id = self.credentials.claim(token_hash(claim_token), token_hash(session_token), utcnow())
        job = JobRepository(self.session).by_id(job_id) if job_id else None
        if job is None or not credential_active(job, claiming=True):
            self.session.rollback()
            raise AuthenticationError(INVALID)
        self.session.commit()
        return job, session_token

    def authenticate(self, session_token: str) -> JobRecord:
        job = None
        if session_token.startswith(SESSION_PREFIX):
            job = self.credentials.job_for_session(token_hash(session_token))
        if job is None or not credential_active(job):
            raise AuthenticationError(INVALID)
        return job

    def revoke(self, job_id: uuid.UUID) -> None:
        """Forget the job's credential (the caller commits)."""
        self.credentials.revoke(job_id)
