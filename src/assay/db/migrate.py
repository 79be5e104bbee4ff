"""Run Alembic migrations programmatically (on start and from ``assay db upgrade``)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic runs on one global context per process, and MLflow's database stores migrate with
# Alembic when they are opened: two migrations in one process at once break each other.
MIGRATION_LOCK = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with MIGRATION_LOCK:
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with MIGRATION_LOCK:
        command.downgrade(alembic_config(engine), revision)
