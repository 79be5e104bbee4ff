"""dataset content hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: datasets uploaded before this revision, and those jobs generate, have none.
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch.create_index("ix_datasets_project_id_sha256", ["project_id", "sha256"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_index("ix_datasets_project_id_sha256")
        batch.drop_column("sha256")
