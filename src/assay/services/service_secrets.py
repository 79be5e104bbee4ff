"""The secrets a service names (``secrets``), and the model file a model service loads
(``model_file``), and how its process gets them.

Neither travels with the engine's submission: the reconciler mints a claim token for
each replica's engine job it submits (only its hash is kept, ``service_credentials``), the
entrypoint (``assay.jobs.serve``) trades it once at the internal job API for exactly the
service's secrets and a short-lived signed link to exactly its pinned model file, downloads
the file, and hands the secrets to the user's command as variables, never the token or the
link. A secret reaches a service only when its ``allowed_hosts`` holds ``*``: the service's
code can send it anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from assay.errors import AuthenticationError, InvalidInputError
from assay.records import DesiredState, SecretRecord, ServiceRecord, ServiceReplicaRecord
from assay.repositories.files import FileRepository
from assay.repositories.secrets import SecretRepository
from assay.repositories.service_credentials import ServiceCredentialRepository
from assay.repositories.services import RESTING, ServiceRepository
from assay.security.destinations import check_release_to_code
from assay.security.job_tokens import CLAIM_PREFIX, REDACTED, new_claim_token, redact_job_tokens
from assay.security.links import redact_link_signatures
from assay.security.secret_box import SecretBox
from assay.security.tokens import token_hash
from assay.services.links import DownloadLinks

INVALID = "the service credential is invalid, already used, or its service has moved on"
# The entrypoint follows the link at once; a restart claims a new one.
MODEL_LINK_TTL_SECONDS = 600


@dataclass(frozen=True)
class ServiceClaim:
    env: dict[str, str]
    model_url: str | None


class ServiceSecrets:
    def __init__(self, session: Session, box: SecretBox) -> None:
        self.session = session
        self.box = box
        self.credentials = ServiceCredentialRepository(session)

    def records(self, project_id: str, names: Sequence[str]) -> list[SecretRecord]:
        """The project's secrets of these names (case-insensitive), each one that a service
        may receive; 422 naming ``secrets[i]`` otherwise."""
        secrets = SecretRepository(self.session)
        found = []
        for index, name in enumerate(names):
            field = f"secrets[{index}]"
            record = secrets.get(project_id, name.lower())
            if record is None:
                raise InvalidInputError(
                    f"secret {name.lower()!r} does not exist in this project", field=field
                )
            check_release_to_code(record.name, record.allowed_hosts, field=field)
            found.append(record)
        return found

    def mint(self, service: ServiceRecord, submission_id: str) -> str:
        """A claim token for one replica's engine job (the caller commits it before the engine
        sees the submission, so that the process can claim at once)."""
        token = new_claim_token()
        current = [row.submission_id for row in service.replica_rows]
        self.credentials.issue(service.id, submission_id, token_hash(token), current)
        return token

    def claim(self, claim_token: str, links: DownloadLinks) -> ServiceClaim:
        """The service's secrets by variable name and a link to its model file (``links``: at
        an address that workers reach), for the unused claim token of an engine job that is
        still one of its replicas' current one. The token is spent even when a secret is
        refused (gone since, or no longer allowed to reach code) or the model file is gone:
        that replica fails with the reason."""
        taken = (
            self.credentials.take(token_hash(claim_token)) if claim_token.startswith(CLAIM_PREFIX) else None
        )
        self.session.commit()
        service = ServiceRepository(self.session).by_id(taken[0]) if taken else None
        if (
            taken is None
            or service is None
            or not any(_wanted(service, row, taken[1]) for row in service.replica_rows)
            or service.desired != DesiredState.RUNNING
            or service.status in RESTING
        ):
            raise AuthenticationError(INVALID)
        names = [str(name) for name in service.config.get("secrets", [])]
        records = self.records(service.project_id, names)
        pinned = service.config.get("model_file")
        return ServiceClaim(
            env={name: self.box.open(record.ciphertext) for name, record in zip(names, records, strict=True)},
            model_url=self._model_url(service.project_id, pinned, links) if pinned else None,
        )

    def _model_url(self, project_id: str, pinned: dict[str, Any], links: DownloadLinks) -> str:
        """Through the API (never a presigned storage URL, which names the store's address as
        the server reaches it): the job API's address is the one that workers are known to reach."""
        files = FileRepository(self.session)
        record = files.get(project_id, pinned["folder"], pinned["name"], pinned["version"])
        if record is None or str(record.id) != pinned["file_id"]:
            where = f"{pinned['folder']}/{pinned['name']} version {pinned['version']}"
            raise InvalidInputError(f"the model file {where} no longer exists in the project", field="model")
        return links.object_url(record.object_key, record.name, direct=False)

    def redactor(self, service: ServiceRecord) -> Callable[[str], str]:
        """What takes out of a text the service's secret values (as they are now), job tokens
        and links' signatures. The secrets are read and decrypted once, for all the texts of one
        reading (every replica's output, each second of a followed log)."""
        secrets = SecretRepository(self.session)
        names = [str(name).lower() for name in service.config.get("secrets", [])]
        records = (secrets.get(service.project_id, name) for name in names)
        values = [self.box.open(record.ciphertext) for record in records if record is not None]

        def redact(text: str) -> str:
            for value in values:
                text = text.replace(value, REDACTED)
            return redact_link_signatures(redact_job_tokens(text))

        return redact


def _wanted(service: ServiceRecord, row: ServiceReplicaRecord, submission_id: str) -> bool:
    """Whether the engine job is this replica's current one, and the replica is still asked
    for: not resting, and not being stopped by a scale-down."""
    return row.submission_id == submission_id and row.status not in RESTING and row.index < service.replicas
