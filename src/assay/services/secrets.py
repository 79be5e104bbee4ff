"""Named secret values per project: encrypted before they reach SQL, never returned by the API."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from assay.errors import InvalidInputError, NotFoundError
from assay.records import SecretRecord, UserRecord
from assay.repositories.secrets import SecretRepository
from assay.schemas.secrets import SecretUploadRequest
from assay.security.secret_box import SecretBox
from assay.services.audit import AuditTrail

NAME_PATTERN = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,254}$")


def normalize_name(name: str) -> str:
    """Lumigator treats secret names case-insensitively; we store them lowercase."""
    normalized = name.strip().lower()
    if not NAME_PATTERN.fullmatch(normalized):
        raise InvalidInputError(
            "secret names are 1-255 characters: letters, digits, '_', '.', '-' (not first)",
            field="secret_name",
        )
    return normalized


class SecretService:
    def __init__(self, session: Session, box: SecretBox) -> None:
        self.session = session
        self.secrets = SecretRepository(session)
        self.box = box
        self.audit = AuditTrail(session)

    def list(self, project_id: str) -> Sequence[SecretRecord]:
        return self.secrets.list_for_project(project_id)

    def put(self, project_id: str, name: str, upload: SecretUploadRequest, actor: UserRecord) -> bool:
        """Store or replace a secret; returns True when it did not exist before. Replacing
        without ``allowed_hosts`` keeps the list, so Lumigator clients can rotate a key."""
        name = normalize_name(name)
        existing = self.secrets.get(project_id, name)
        ciphertext = self.box.seal(upload.value)
        secret = existing or self.secrets.add(
            SecretRecord(project_id=project_id, name=name, ciphertext=ciphertext, allowed_hosts=[])
        )
        secret.description = upload.description
        secret.ciphertext = ciphertext
        if upload.allowed_hosts is not None:
            secret.allowed_hosts = upload.allowed_hosts
        action = "create" if existing is None else "update"
        self.audit.record(
            actor, action, "secret", name, project_id=project_id, allowed_hosts=secret.allowed_hosts or []
        )
        self.session.commit()
        return existing is None

    def delete(self, project_id: str, name: str, actor: UserRecord) -> None:
        secret = self.secrets.get(project_id, normalize_name(name))
        if secret is None:
            raise NotFoundError(f"secret {name!r} not found", field="secret_name")
        self.secrets.delete(secret)
        self.audit.record(actor, "delete", "secret", secret.name, project_id=project_id)
        self.session.commit()

    def reveal(self, project_id: str, name: str) -> str:
        """The plaintext, for code that hands it to a model provider; never for a response."""
        secret = self.secrets.get(project_id, normalize_name(name))
        if secret is None:
            raise NotFoundError(f"secret {name!r} not found", field="secret_name")
        return self.box.open(secret.ciphertext)
