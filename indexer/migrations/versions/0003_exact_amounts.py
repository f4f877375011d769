"""amounts exact up to 2**256 - 1: NUMERIC(78, 0) on PostgreSQL, decimal TEXT on SQLite

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:30:00

The contracts accept credit limits, face values and holding values up to 2**128 - 1 and
settlement-currency amounts up to 2**256 - 1; BIGINT stopped the indexer at 2**63. Existing rows
are converted in place (PostgreSQL: ALTER ... TYPE ... USING; SQLite: the batch copy casts the
integers to their decimal text).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNTS: dict[str, tuple[str, ...]] = {
    "credit_line": ("limit", "used"),
    "certificate": ("face_value", "repaid_value", "redeemed_value"),
    "holding": ("value", "initial_value"),
    "financing_offer": ("value", "price"),
    "currency_balance": ("balance",),
    "holding_transfer": ("value",),
    "financing_deal": ("value", "price"),
    "repayment": ("amount", "total_repaid"),
    "redemption": ("amount", "total_redeemed"),
    "currency_transfer": ("value",),
}


def _alter(new: sa.types.TypeEngine, old: sa.types.TypeEngine, cast: str) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    kw: dict[str, Any] = {}
    for table, columns in AMOUNTS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for col in columns:
                kw = {"postgresql_using": f'"{col}"::{cast}'} if postgres else {}
                batch_op.alter_column(
                    col,
                    existing_type=old,
                    type_=new,
                    existing_nullable=False,
                    **kw,
                )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _alter(sa.String(78) if sqlite else sa.Numeric(78, 0), sa.BigInteger(), "numeric(78, 0)")


def downgrade() -> None:  # fails on amounts beyond BIGINT, as it must
    sqlite = op.get_bind().dialect.name == "sqlite"
    _alter(sa.BigInteger(), sa.String(78) if sqlite else sa.Numeric(78, 0), "bigint")
