"""code permission, per-project Ray clusters, secret destinations

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("can_run_code", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ray_address", sa.String(length=2048), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ray_address", sa.String(length=2048), nullable=True))
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_hosts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_column("allowed_hosts")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("ray_address")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("ray_address")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("can_run_code")
