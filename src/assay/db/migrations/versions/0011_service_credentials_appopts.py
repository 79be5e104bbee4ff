"""service credentials (appopts)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_credentials",
        sa.Column("claim_hash", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
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
