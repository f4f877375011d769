"""split and rate aggregates: `agg_deal_rate`, `agg_deal_tier_seller` and `agg_deal_factor_seller`
(the rates report per tier or factor from a row per tier, factor, kind and rate and per tier or
factor and seller instead of every deal joined with its offer), `agg_split_count` (splits per
holding) and `agg_chain_hop` (the hops that continue a fast chain of the default 3,600 s, with the
hop they continue and the chain's length), and the partial index of split values, so the default
abnormal-splits report reads its findings instead of every hop; filled here from the existing
tables with plain SQL

Revision ID: 0012_split_rate_aggregates
Revises: 0011_report_latency
Create Date: 2026-12-03 18:30:00

Written by the follower in each batch's transaction and on reorg rollback (`indexer.aggregates`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from indexer.models import Amount

revision: str = "0012_split_rate_aggregates"
down_revision: str | None = "0011_report_latency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN_SECONDS = 3600  # indexer.aggregates.CHAIN_SECONDS when this migration was written

# a hop's chain predecessor: the last earlier hop that delivered the holding it leaves, if it
# delivered it at most CHAIN_SECONDS before; the chain's length counted from the first hop
FILL_CHAIN_HOP = f"""
WITH RECURSIVE link AS (
  SELECT h.block_number, h.log_index, p.block_number AS prev_block_number, p.log_index AS prev_log_index
  FROM holding_transfer h JOIN holding_transfer p ON p.to_token_id = h.from_token_id
       AND (p.block_number < h.block_number OR (p.block_number = h.block_number AND p.log_index < h.log_index))
  WHERE h.kind IN ('split', 'transfer') AND p.kind IN ('split', 'transfer')
    AND h.timestamp - p.timestamp BETWEEN 0 AND {CHAIN_SECONDS}
    AND NOT EXISTS (
      SELECT 1 FROM holding_transfer q
      WHERE q.to_token_id = h.from_token_id AND q.kind IN ('split', 'transfer')
        AND (q.block_number > p.block_number OR (q.block_number = p.block_number AND q.log_index > p.log_index))
        AND (q.block_number < h.block_number OR (q.block_number = h.block_number AND q.log_index < h.log_index)))
), chain AS (
  SELECT l.block_number, l.log_index, l.prev_block_number, l.prev_log_index, 2 AS hops FROM link l
  WHERE NOT EXISTS (SELECT 1 FROM link m WHERE m.block_number = l.prev_block_number
                                           AND m.log_index = l.prev_log_index)
  UNION ALL
  SELECT l.block_number, l.log_index, l.prev_block_number, l.prev_log_index, c.hops + 1
  FROM link l JOIN chain c ON l.prev_block_number = c.block_number AND l.prev_log_index = c.log_index
)
INSERT INTO agg_chain_hop (block_number, log_index, prev_block_number, prev_log_index, hops)
SELECT block_number, log_index, prev_block_number, prev_log_index, hops FROM chain
"""


def upgrade() -> None:
    op.create_table(
        "agg_deal_rate",
        sa.Column("tier", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("factor", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.Column("volume", Amount(), nullable=False),
        sa.Column("paid", Amount(), nullable=False),
        sa.Column("days_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tier", "factor", "kind", "rate_bps"),
    )
    op.create_table(
        "agg_deal_tier_seller",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "tier", "seller"),
    )
    op.create_table(
        "agg_deal_factor_seller",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("factor", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "factor", "seller"),
    )
    op.create_table(
        "agg_split_count",
        sa.Column("token_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("splits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_index("ix_agg_split_count_splits", "agg_split_count", ["splits"])
    op.create_table(
        "agg_chain_hop",
        sa.Column("block_number", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("log_index", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("prev_block_number", sa.BigInteger(), nullable=False),
        sa.Column("prev_log_index", sa.Integer(), nullable=False),
        sa.Column("hops", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    op.create_index("ix_agg_chain_hop_hops", "agg_chain_hop", ["hops"])
    op.create_index("ix_agg_chain_hop_prev", "agg_chain_hop", ["prev_block_number", "prev_log_index"])
    split = sa.text("kind = 'split'")
    op.create_index("ix_holding_transfer_split_value", "holding_transfer", ["value"],
                    postgresql_where=split, sqlite_where=split)
    bind = op.get_bind()
    total = "xsum" if bind.dialect.name == "sqlite" else "SUM"  # exact sums of amounts (`reports.Exact`)
    deals = "FROM financing_deal d JOIN financing_offer o ON o.offer_id = d.offer_id"
    for sql in (
        f"""INSERT INTO agg_deal_rate (tier, factor, kind, rate_bps, deals, volume, paid, days_sum)
            SELECT o.tier, d.factor, o.kind, d.rate_bps, COUNT(*), {total}(d.value), {total}(d.price),
                   SUM(d.days_to_maturity) {deals} GROUP BY o.tier, d.factor, o.kind, d.rate_bps""",
        *(f"""INSERT INTO agg_deal_{by}_seller (kind, {by}, seller, deals)
              SELECT {kind}, {col}, d.seller, COUNT(*) {deals} GROUP BY {group}{col}, d.seller"""
          for by, col in (("tier", "o.tier"), ("factor", "d.factor"))
          for kind, group in (("o.kind", "o.kind, "), ("'*'", ""))),  # '*': every kind
        """INSERT INTO agg_split_count (token_id, splits)
           SELECT from_token_id, COUNT(*) FROM holding_transfer WHERE kind = 'split' GROUP BY from_token_id""",
        FILL_CHAIN_HOP,
    ):
        bind.execute(sa.text(sql))


def downgrade() -> None:
    op.drop_index("ix_holding_transfer_split_value", table_name="holding_transfer")
    op.drop_table("agg_chain_hop")
    op.drop_table("agg_split_count")
    op.drop_table("agg_deal_factor_seller")
    op.drop_table("agg_deal_tier_seller")
    op.drop_table("agg_deal_rate")
