"""the invoice registry (one invoice, one certificate) and the deals' registration references:
`invoice` (state, with `invoice_version`), `invoice_event` (backed / released / closed per
certificate), `financing_offer.registration_ref` / `registered_at` (and in its version table)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:40:00

Amounts are exact as since 0003 (NUMERIC(78, 0) on PostgreSQL, decimal TEXT on SQLite). An index
built before this revision skipped the invoice events and `RegistrationSet` of the blocks it had
indexed: for those, re-index (`python -m indexer reset --yes`, then start). The controls'
settings (`InvoicesRequiredSet`, `MaxTierSet`, `MinSplitValueSet`) go to `system_state` (no schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _amount() -> sa.types.TypeEngine:
    return sa.String(78) if op.get_bind().dialect.name == "sqlite" else sa.Numeric(78, 0)


def _invoice_columns(version: bool) -> list[sa.Column]:
    key = [sa.Column("key", sa.String(length=66), nullable=False, autoincrement=False)]
    return [
        *key,
        sa.Column("amount", _amount(), nullable=False),
        sa.Column("used", _amount(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        *([sa.Column("valid_from_block", sa.BigInteger(), nullable=False, autoincrement=False),
           sa.Column("valid_to_block", sa.BigInteger(), nullable=True)] if version else []),
    ]


def upgrade() -> None:
    op.create_table("invoice", *_invoice_columns(False), sa.PrimaryKeyConstraint("key"))
    op.create_table("invoice_version", *_invoice_columns(True), sa.PrimaryKeyConstraint("key", "valid_from_block"))
    op.create_index("ix_invoice_version_valid_from_block", "invoice_version", ["valid_from_block"])
    op.create_table(
        "invoice_event",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=66), nullable=False),
        sa.Column("certificate_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount", _amount(), nullable=False),
        sa.Column("value", _amount(), nullable=False),
        sa.Column("used", _amount(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    for col in ("key", "certificate_id", "timestamp"):
        op.create_index(f"ix_invoice_event_{col}", "invoice_event", [col])
    for table in ("financing_offer", "financing_offer_version"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("registration_ref", sa.String(length=66), nullable=True))
            batch_op.add_column(sa.Column("registered_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in ("financing_offer_version", "financing_offer"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("registered_at")
            batch_op.drop_column("registration_ref")
    op.drop_table("invoice_event")
    op.drop_table("invoice_version")
    op.drop_table("invoice")
