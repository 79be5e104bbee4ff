"""Per-component health: can we reach the database and the object store right now."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from assay.schemas.health import ComponentHealth, HealthResponse
from assay.storage import ObjectStore


class HealthService:
    def __init__(self, session: Session, store: ObjectStore, deployment_type: str) -> None:
        self.session = session
        self.store = store
        self.deployment_type = deployment_type

    def check(self) -> HealthResponse:
        checks = {"database": self._database(), "storage": self._storage()}
        healthy = all(check.status == "ok" for check in checks.values())
        return HealthResponse(
            status="OK" if healthy else "DEGRADED", deployment_type=self.deployment_type, checks=checks
        )

    def _database(self) -> ComponentHealth:
        try:
            self.session.execute(text("SELECT 1"))
        except Exception as exc:
            return ComponentHealth(status="error", detail=type(exc).__name__)
        return ComponentHealth(status="ok")

    def _storage(self) -> ComponentHealth:
        try:
            self.store.check()
        except Exception as exc:
            return ComponentHealth(status="error", detail=type(exc).__name__)
        return ComponentHealth(status="ok")
