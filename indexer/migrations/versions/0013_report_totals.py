"""report totals: indexes, so the market's and the deals' totals read an index instead of every
offer and request: the open offers' and the quote requests' state, expiry and value
(`ix_financing_offer_market_state`, `ix_quote_request_market_state`; index-only on PostgreSQL)
and the registered deals (`ix_financing_offer_registered`)

Revision ID: 0013_report_totals
Revises: 0012_split_rate_aggregates
Create Date: 2026-12-03 18:40:00

Indexes only: PostgreSQL and SQLite fill them as they are created.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_report_totals"
down_revision: str | None = "0012_split_rate_aggregates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    open_offer = sa.text("kind = 'open'")
    op.create_index("ix_financing_offer_market_state", "financing_offer", ["status", "expires_at"],
                    postgresql_include=["value"], postgresql_where=open_offer, sqlite_where=open_offer)
    op.create_index("ix_quote_request_market_state", "quote_request", ["status", "deadline"],
                    postgresql_include=["value"])
    registered = sa.text("registration_ref IS NOT NULL")
    op.create_index("ix_financing_offer_registered", "financing_offer", ["offer_id"],
                    postgresql_where=registered, sqlite_where=registered)


def downgrade() -> None:
    op.drop_index("ix_financing_offer_registered", table_name="financing_offer")
    op.drop_index("ix_quote_request_market_state", table_name="quote_request")
    op.drop_index("ix_financing_offer_market_state", table_name="financing_offer")
