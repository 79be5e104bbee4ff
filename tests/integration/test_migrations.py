"""Alembic migrations on both databases: they build exactly the mapped schema, both ways."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Integer,
    String,
    Uuid,
    column,
    insert,
    inspect,
    select,
    table,
    text,
)

from assay.db.engine import build_engine
from assay.db.migrate import downgrade, upgrade
from assay.records import Base
from tests.servers import PostgresDatabase

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
    "services",
    "service_replicas",
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


def columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def test_0005_adds_the_policy_columns_to_existing_rows_and_removes_them(engine: Engine) -> None:
    """Rows written before 0005 get the safe values (no code permission, the default cluster,
    no listed destinations), and the downgrade takes the columns away again."""
    upgrade(engine, "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, is_admin, created_at) "
                "VALUES ('00000000000000000000000000000001', 'old', false, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO projects (id, name, description, created_at) "
                "VALUES ('p', 'P', '', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO secrets (project_id, name, description, ciphertext, created_at, updated_at) "
                "VALUES ('p', 'k', '', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )

    upgrade(engine, "0005")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT can_run_code FROM users")).scalar_one() in (False, 0)
        assert connection.execute(text("SELECT ray_address FROM projects")).scalar_one() is None
        assert connection.execute(text("SELECT allowed_hosts FROM secrets")).scalar_one() is None
    assert "ray_address" in columns(engine, "jobs")

    downgrade(engine, "0004")
    assert "can_run_code" not in columns(engine, "users")
    assert "ray_address" not in columns(engine, "projects") | columns(engine, "jobs")
    assert "allowed_hosts" not in columns(engine, "secrets")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT username FROM users")).scalar_one() == "old"


def test_0008_adds_the_workflows_provider_options_and_removes_them(engine: Engine) -> None:
    upgrade(engine, "0008")
    assert "provider_options" in columns(engine, "workflows")
    downgrade(engine, "0007")
    assert "provider_options" not in columns(engine, "workflows")
    assert "metric_names" in columns(engine, "workflows")


def test_0009_adds_the_dataset_content_hash_and_removes_it(engine: Engine) -> None:
    upgrade(engine, "0009")
    assert "sha256" in columns(engine, "datasets")
    assert "ix_datasets_project_id_sha256" in {
        index["name"] for index in inspect(engine).get_indexes("datasets")
    }
    downgrade(engine, "0008")
    assert "sha256" not in columns(engine, "datasets") and "row_count" in columns(engine, "datasets")


def test_0011_makes_each_service_its_replica_0_and_back(engine: Engine) -> None:
    """A service of 0010 keeps its engine job (``{id}-{generation}``) and its address as
    replica 0, so the upgrade neither stops nor duplicates it; the downgrade gives them back."""
    upgrade(engine, "0010")
    service_id = uuid.uuid4()
    services = table(
        "services",
        column("id", Uuid()),
        *(column(name, String()) for name in ("project_id", "name", "kind", "engine_name", "desired")),
        *(column(name, String()) for name in ("status", "address")),
        column("config", JSON()),
        column("generation", Integer()),
        column("restarts", Integer()),
        column("created_at", DateTime(timezone=True)),
        column("updated_at", DateTime(timezone=True)),
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO projects (id, name, description, created_at) "
                "VALUES ('p', 'P', '', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            insert(services).values(
                id=service_id,
                project_id="p",
                name="web",
                kind="app",
                config={"command": ["serve"]},
                engine_name="assay-p-web",
                desired="running",
                status="running",
                generation=3,
                restarts=1,
                address="http://10.0.0.5:4321",
                created_at=dt.datetime.now(dt.UTC),
                updated_at=dt.datetime.now(dt.UTC),
            )
        )

    upgrade(engine, "0011")
    replicas = table(
        "service_replicas",
        column("service_id", Uuid()),
        *(column(name, Integer()) for name in ("index", "generation", "restarts")),
        *(column(name, String()) for name in ("submission_id", "status", "address")),
    )
    with engine.connect() as connection:
        row = connection.execute(select(replicas)).one()
    assert (row.service_id, row.index, row.generation, row.submission_id) == (
        service_id,
        0,
        3,
        f"{service_id}-3",
    )
    assert (row.status, row.restarts, row.address) == ("running", 1, "http://10.0.0.5:4321")
    assert "address" not in columns(engine, "services")

    downgrade(engine, "0010")
    assert "service_replicas" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT address FROM services")).scalar_one() == "http://10.0.0.5:4321"
