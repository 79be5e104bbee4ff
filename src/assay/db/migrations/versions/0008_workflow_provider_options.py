"""workflow provider options

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a workflow created before this revision asked for the provider's defaults.
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("provider_options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("provider_options")
