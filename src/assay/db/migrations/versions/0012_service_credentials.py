"""service credentials: a one-time claim of one replica submission for its service's secrets

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_credentials",
        sa.Column("claim_hash", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_credentials_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("claim_hash", name=op.f("pk_service_credentials")),
    )
    op.create_index(op.f("ix_service_credentials_service_id"), "service_credentials", ["service_id"])


def downgrade() -> None:
    op.drop_table("service_credentials")
