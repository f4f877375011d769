"""report aggregates maintained with the state (`agg_tier_receiver`, `agg_tier_held`,
`agg_holder_outstanding`), so the whole-book tiers and concentration-by-holder reports read a few
thousand rows instead of every holding and transfer; filled from the existing tables

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00

The tables are written by the follower in each batch's transaction and on reorg rollback
(`indexer.aggregates`); an existing index gets them computed from its state and event tables here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from indexer.models import Amount

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agg_tier_receiver",
        sa.Column("tier", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("arrivals", sa.BigInteger(), nullable=False),
        sa.Column("value_received", Amount(), nullable=False),
        sa.PrimaryKeyConstraint("tier", "owner"),
    )
    op.create_table(
        "agg_tier_held",
        sa.Column("tier", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("value", Amount(), nullable=False),
        sa.PrimaryKeyConstraint("tier"),
    )
    op.create_table(
        "agg_holder_outstanding",
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("value", Amount(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    from indexer.aggregates import rebuild

    rebuild(op.get_bind(), ("agg_tier_receiver", "agg_tier_held", "agg_holder_outstanding"))  # its own tables


def downgrade() -> None:
    op.drop_table("agg_holder_outstanding")
    op.drop_table("agg_tier_held")
    op.drop_table("agg_tier_receiver")
