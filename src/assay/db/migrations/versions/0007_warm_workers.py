"""warm workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warm_workers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warm_workers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_warm_workers_token_hash")),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("runner", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("worker_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("worker_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("worker_result", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("worker_result", "worker_seen_at", "worker_id", "runner"):
            batch.drop_column(column)
    op.drop_table("warm_workers")
