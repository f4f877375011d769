"""holding_transfer.tier: the tier at which each holding was received (historical tier reach)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Existing rows: a holding's tier only ever grows by one per whole transfer, so the tier right
# after a row = the holding's current tier - the whole transfers of that holding after the row.
_BACKFILL = """
UPDATE holding_transfer SET tier = COALESCE((
    SELECT h.tier FROM holding h
    WHERE h.token_id = CASE WHEN holding_transfer.to_token_id <> 0 THEN holding_transfer.to_token_id
                            ELSE holding_transfer.from_token_id END
), 0) - (
    SELECT COUNT(*) FROM holding_transfer t
    WHERE t.kind = 'transfer'
      AND t.from_token_id = CASE WHEN holding_transfer.to_token_id <> 0 THEN holding_transfer.to_token_id
                                 ELSE holding_transfer.from_token_id END
      AND (t.block_number > holding_transfer.block_number
           OR (t.block_number = holding_transfer.block_number AND t.log_index > holding_transfer.log_index))
)
"""


def upgrade() -> None:
    with op.batch_alter_table("holding_transfer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.Integer(), server_default="0", nullable=False))
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("holding_transfer", schema=None) as batch_op:
        batch_op.drop_column("tier")
