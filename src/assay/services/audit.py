"""The audit log: who created, ran, changed or deleted what.

Services call ``record`` before they commit, so an event is written in the transaction of the
change it describes. Details name things (a secret's name, a file's version), never values.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from assay.records import AuditEventRecord, UserRecord
from assay.repositories.audit import AuditRepository

Detail = str | int | bool | list[int] | list[str] | dict[str, int] | None


class AuditTrail:
    def __init__(self, session: Session) -> None:
        self.events = AuditRepository(session)

    def record(
        self,
        actor: UserRecord | None,
        action: str,
        resource_type: str,
        resource_id: object,
        *,
        project_id: str | None = None,
        **details: Detail,
    ) -> None:
        """Add an event to the caller's transaction; ``actor`` None means Assay itself."""
        self.events.add(
            AuditEventRecord(
                project_id=project_id,
                actor_id=actor.id if actor is not None else None,
                actor=actor.username if actor is not None else "assay",
                action=action,
                resource_type=resource_type,
                resource_id=str(resource_id),
                details=details,
            )
        )

    def list_page(
        self, project_id: str | None, skip: int, limit: int
    ) -> tuple[Sequence[AuditEventRecord], int]:
        return self.events.list_page(project_id, skip, limit)
