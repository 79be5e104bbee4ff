from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from assay.records import ServiceCredentialRecord
from assay.repositories.base import Repository


class ServiceCredentialRepository(Repository[ServiceCredentialRecord]):
    record = ServiceCredentialRecord

    def issue(self, service_id: uuid.UUID, generation: int, claim_hash: str) -> None:
        """A claim for this generation; those of earlier generations stop working."""
        self.session.execute(
            delete(ServiceCredentialRecord).where(
                ServiceCredentialRecord.service_id == service_id,
                ServiceCredentialRecord.generation != generation,
            )
        )
        self.add(ServiceCredentialRecord(claim_hash=claim_hash, service_id=service_id, generation=generation))

    def take(self, claim_hash: str) -> tuple[uuid.UUID, int] | None:
        """The service and generation of the claim, which goes in the same step: whoever
        deletes the row holds it, so a claim token works once even when two callers race."""
        found = self.session.execute(
            select(ServiceCredentialRecord.service_id, ServiceCredentialRecord.generation).where(
                ServiceCredentialRecord.claim_hash == claim_hash
            )
        ).first()
        if found is None:
            return None
        result = self.session.execute(
            delete(ServiceCredentialRecord).where(ServiceCredentialRecord.claim_hash == claim_hash)
        )
        return (found[0], found[1]) if result.rowcount else None  # type: ignore[attr-defined]
