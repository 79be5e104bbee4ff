"""The service tier: ``JobService``, ``Reconciler``, ``WorkflowRunner`` and the other use cases
driven directly (no HTTP, no Ray) on a real database and a real object store, with the
in-memory compute engine (``tests.service.engine``) in the cluster's place.

A ``World`` is what ``Runtime`` builds for a server, minus the HTTP app and the background
loops: the test calls ``tick()`` where the reconciler's loop would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from sqlalchemy.orm import Session, sessionmaker

from assay.compute import ComputeRegistry
from assay.config import Settings
from assay.db.engine import build_engine, build_session_factory
from assay.db.migrate import upgrade
from assay.records import DatasetRecord, JobRecord, UserRecord, WorkflowRecord
from assay.repositories.users import UserRepository
from assay.security.keys import load_master_key
from assay.security.links import LinkSigner
from assay.security.secret_box import SecretBox
from assay.services.bootstrap import ensure_defaults
from assay.services.datasets import DatasetService
from assay.services.links import DownloadLinks
from assay.services.reconciler import Reconciler
from assay.services.service_secrets import MODEL_LINK_TTL_SECONDS, ServiceClaim, ServiceSecrets
from assay.storage import ObjectStore, open_store
from tests.helpers import csv_bytes
from tests.service.engine import MemoryCompute


class Upload:
    """A dataset file as ``DatasetService.create`` receives it from the multipart reader."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.data = data

    async def chunks(self) -> Iterator[bytes]:  # type: ignore[misc]
        yield self.data

    async def fields(self) -> dict[str, str]:
        return {}


@dataclass
class World:
    settings: Settings
    session_factory: sessionmaker[Session]
    store: ObjectStore
    compute: MemoryCompute
    clusters: ComputeRegistry
    box: SecretBox
    signer: LinkSigner

    def session(self) -> Session:
        return self.session_factory()

    def admin(self, session: Session) -> UserRecord:
        user = UserRepository(session).get_by_username(self.settings.admin_username)
        assert user is not None
        return user

    def tick(self) -> bool:
        """One pass of the reconciler, as its leader runs it."""
        with self.session() as session:
            return Reconciler(session, self.store, self.clusters, self.settings, self.box, self.signer).tick()

    def claim(self, token: str) -> ServiceClaim:
        """What a service's entrypoint gets for its claim token, as the job API answers it."""
        base = self.settings.resolved_job_api_url
        links = DownloadLinks(self.store, self.signer, MODEL_LINK_TTL_SECONDS, base)
        with self.session() as session:
            return ServiceSecrets(session, self.box).claim(token, links)

    def upload(self, data: bytes | None = None) -> uuid.UUID:
        with self.session() as session:
            service = DatasetService(session, self.store, self.settings, self.signer)
            record = anyio.run(
                service.create, self.settings.default_project, Upload("d.csv", data or csv_bytes()), None
            )
            return record.id

    def job(self, job_id: uuid.UUID) -> JobRecord:
        with self.session() as session:
            job = session.get(JobRecord, job_id)
            assert job is not None
            session.expunge(job)
            return job

    def workflow(self, workflow_id: uuid.UUID) -> WorkflowRecord:
        with self.session() as session:
            workflow = session.get(WorkflowRecord, workflow_id)
            assert workflow is not None
            session.expunge(workflow)
            return workflow

    def dataset(self, dataset_id: uuid.UUID) -> DatasetRecord:
        with self.session() as session:
            dataset = session.get(DatasetRecord, dataset_id)
            assert dataset is not None
            session.expunge(dataset)
            return dataset


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    values: dict[str, object] = {"home": tmp_path, "warm_pool": False, "reconcile_wakeup": False}
    if request.param == "postgresql":
        new_database: Callable[[], str] = request.getfixturevalue("postgres_databases")
        values["database_url"] = new_database()
    settings = Settings(**values)  # type: ignore[arg-type]
    engine = build_engine(settings.resolved_database_url)
    upgrade(engine)
    session_factory = build_session_factory(engine)
    with session_factory() as session:
        ensure_defaults(session, settings)
    store = open_store(settings)
    compute = MemoryCompute(store)
    master_key = load_master_key(settings)
    yield World(
        settings=settings,
        session_factory=session_factory,
        store=store,
        compute=compute,
        clusters=ComputeRegistry(compute, lambda address: compute),
        box=SecretBox(master_key),
        signer=LinkSigner(master_key),
    )
    engine.dispose()
