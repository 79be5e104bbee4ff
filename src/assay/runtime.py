"""Everything the server builds once at start and shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assay.compute import ComputeRegistry
from assay.compute.ray import RayCompute
from assay.config import Settings
from assay.db.engine import build_engine, build_session_factory
from assay.security.keys import load_master_key
from assay.security.links import LinkSigner
from assay.security.secret_box import SecretBox
from assay.services.catalog import ModelCatalog
from assay.storage import ObjectStore, open_store
from assay.tracking import Tracker, open_tracker
from assay.wakeup import Wakeup, wake_on_changes


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    store: ObjectStore
    secret_box: SecretBox
    link_signer: LinkSigner
    catalog: ModelCatalog
    clusters: ComputeRegistry
    tracker: Tracker
    reconciler_wakeup: Wakeup

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = build_engine(settings.resolved_database_url)
        master_key = load_master_key(settings)
        session_factory = build_session_factory(engine)
        wakeup = Wakeup()
        if settings.reconcile_wakeup:
            wake_on_changes(session_factory, wakeup)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            store=open_store(settings),
            secret_box=SecretBox(master_key),
            link_signer=LinkSigner(master_key),
            catalog=ModelCatalog.load_default(),
            clusters=ComputeRegistry(
                RayCompute(
                    settings.ray_address,
                    settings.home,
                    settings.ray_python,
                    multi_user=settings.auth_required,
                    ray_user=settings.ray_user,
                    token_file=settings.ray_auth_token_file,
                ),
                lambda address: RayCompute(
                    address,
                    settings.home,
                    settings.ray_python,
                    token_file=settings.ray_cluster_token_files.get(address),
                ),
            ),
            tracker=open_tracker(settings),
            reconciler_wakeup=wakeup,
        )

    def close(self) -> None:
        self.clusters.close()
        self.engine.dispose()
