"""chain guard (checkpoint.deployment_block_hash) and the follower's status row (indexer_status)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:40:00

An index made before this revision records the deployment block's hash on its next start (the
node it has been following is trusted once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployment_block_hash", sa.String(length=66), nullable=True))
    op.create_table(
        "indexer_status",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head", sa.BigInteger(), nullable=True),
        sa.Column("indexed_block", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("indexer_status")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_column("deployment_block_hash")
