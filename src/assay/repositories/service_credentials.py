from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select

from assay.records import ServiceCredentialRecord
from assay.repositories.base import Repository


class ServiceCredentialRepository(Repository[ServiceCredentialRecord]):
    record = ServiceCredentialRecord

    def issue(
        self, service_id: uuid.UUID, submission_id: str, claim_hash: str, current: Sequence[str]
    ) -> None:
        """A claim for this engine job; those of jobs that are no replica's ``current`` one go."""
        self.session.execute(
            delete(ServiceCredentialRecord).where(
                ServiceCredentialRecord.service_id == service_id,
                ServiceCredentialRecord.submission_id.not_in([*current, submission_id]),
            )
        )
        self.add(
            ServiceCredentialRecord(claim_hash=claim_hash, service_id=service_id, submission_id=submission_id)
        )

    def take(self, claim_hash: str) -> tuple[uuid.UUID, str] | None:
        """The service and engine job of the claim, which goes in the same step: whoever
        deletes the row holds it, so a claim token works once even when two callers race."""
        found = self.session.execute(
            select(ServiceCredentialRecord.service_id, ServiceCredentialRecord.submission_id).where(
                ServiceCredentialRecord.claim_hash == claim_hash
            )
        ).first()
        if found is None:
            return None
        result = self.session.execute(
            delete(ServiceCredentialRecord).where(ServiceCredentialRecord.claim_hash == claim_hash)
        )
        return (found[0], found[1]) if result.rowcount else None  # type: ignore[attr-defined]
