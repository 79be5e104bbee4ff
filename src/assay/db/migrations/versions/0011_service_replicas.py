"""service replicas: each replica of a service is a row with its own engine job and health

A service's address and backoff move to its replicas. An existing service becomes replica 0
and keeps its engine job (``{service}-{generation}``), so the upgrade neither stops nor
duplicates a running service; the downgrade gives replica 0's address back to its service.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

services = sa.table(
    "services",
    sa.column("id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("status_reason", sa.Text()),
    sa.column("generation", sa.Integer()),
    sa.column("restarts", sa.Integer()),
    sa.column("address", sa.String()),
    sa.column("retry_at", sa.DateTime(timezone=True)),
    sa.column("started_at", sa.DateTime(timezone=True)),
)
replicas = sa.table(
    "service_replicas",
    sa.column("service_id", sa.Uuid()),
    sa.column("index", sa.Integer()),
    sa.column("generation", sa.Integer()),
    sa.column("attempt", sa.Integer()),
    sa.column("submission_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("status_reason", sa.Text()),
    sa.column("restarts", sa.Integer()),
    sa.column("address", sa.String()),
    sa.column("retry_at", sa.DateTime(timezone=True)),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("health_failures", sa.Integer()),
)


def upgrade() -> None:
    # The services table changes first: on SQLite the batch copies and drops it, and the drop
    # would cascade to replica rows that already pointed at it.
    existing = op.get_bind().execute(sa.select(services)).all()
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("address")
        batch_op.drop_column("retry_at")
    op.create_table(
        "service_replicas",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health_failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_replicas_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "index", name=op.f("pk_service_replicas")),
    )
    rows = [
        {
            "service_id": service.id,
            "index": 0,
            "generation": service.generation,
            "attempt": 0,
            "submission_id": f"{service.id}-{service.generation}",
            "status": service.status,
            "status_reason": service.status_reason,
            "restarts": service.restarts,
            "address": service.address,
            "retry_at": service.retry_at,
            "started_at": service.started_at,
            "health_failures": 0,
        }
        for service in existing
    ]
    if rows:
        op.bulk_insert(replicas, rows)


def downgrade() -> None:
    connection = op.get_bind()
    first = connection.execute(sa.select(replicas).where(replicas.c.index == 0)).all()
    op.drop_table("service_replicas")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    for replica in first:
        connection.execute(
            services.update()
            .where(services.c.id == replica.service_id)
            .values(address=replica.address, retry_at=replica.retry_at)
        )
