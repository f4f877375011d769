"""report latency: the market report's indexes (each kind in the report's order); the financing
aggregates maintained with the state (`agg_deal_certificate`, `agg_deal_parties`), so exposure and
the whole-history financing report read a row per certificate or per factor and seller instead of
every deal; filled from the existing tables

Revision ID: 0011_report_latency
Revises: 0010
Create Date: 2026-12-03 15:00:00

Written by the follower in each batch's transaction and on reorg rollback (`indexer.aggregates`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from indexer.models import Amount, WideAmount

revision: str = "0011_report_latency"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agg_deal_certificate",
        sa.Column("certificate_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.Column("financed", Amount(), nullable=False),
        sa.Column("financed_price", Amount(), nullable=False),
        sa.PrimaryKeyConstraint("certificate_id"),
    )
    op.create_table(
        "agg_deal_parties",
        sa.Column("factor", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.Column("volume", Amount(), nullable=False),
        sa.Column("paid", Amount(), nullable=False),
        sa.Column("rate_value", WideAmount(), nullable=False),
        sa.Column("rate_sum", sa.BigInteger(), nullable=False),
        sa.Column("days_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("factor", "seller"),
    )
    open_offer = sa.text("kind = 'open'")
    op.create_index("ix_financing_offer_market", "financing_offer",
                    ["certificate_id", "tier", "created_block", "offer_id"],
                    postgresql_where=open_offer, sqlite_where=open_offer)
    op.create_index("ix_quote_request_market", "quote_request",
                    ["certificate_id", "tier", "created_block", "request_id"])
    from indexer.aggregates import rebuild

    rebuild(op.get_bind(), ("agg_deal_certificate", "agg_deal_parties"))


def downgrade() -> None:
    op.drop_index("ix_quote_request_market", table_name="quote_request")
    op.drop_index("ix_financing_offer_market", table_name="financing_offer")
    op.drop_table("agg_deal_parties")
    op.drop_table("agg_deal_certificate")
