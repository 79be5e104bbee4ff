"""Alembic migrations on both databases: they build exactly the mapped schema, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from assay.db.engine import build_engine
from assay.db.migrate import downgrade, upgrade
from assay.records import Base
from assay.testing.servers import PostgresDatabase

TABLES = {
    "projects",
    "users",
    "datasets",
    "secrets",
    "object_cleanups",
    "jobs",
    "leases",
    "experiments",
    "workflows",
    "tracking_outbox",
    "tracking_links",
    "audit_events",
    "files",
    "login_failures",
    "project_members",
    "tokens",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        built = build_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield built
        built.dispose()
        return
    database = PostgresDatabase().start()
    built = build_engine(database.url)
    yield built
    built.dispose()
    database.stop()


def test_upgrade_matches_the_mappings_and_downgrades_cleanly(engine: Engine) -> None:
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []

    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
