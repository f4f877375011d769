"""the follower's counters in its status row (for /metrics): reorgs handled and retryable errors
(node, database, inconsistent ranges) since the follower started

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indexer_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reorgs", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("errors", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("indexer_status", schema=None) as batch_op:
        batch_op.drop_column("errors")
        batch_op.drop_column("reorgs")
