"""the financing market: quote requests and quotes, early-payment offers and programmes, recourse
claims (state tables, each with its `_version` history), early payments (events), and on
`financing_offer` its kind (direct / open / quote), invited factors, tier and accepted quote

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:40:00

An index made before this revision did not follow the market's events (OfferOpened, quotes,
early-payment offers, programmes, recourse): its existing offers become `direct` with the tier
their holding has now, and the new tables start empty. For the market's history re-index
(`python -m indexer reset --yes`, then start); an index built from here on has all of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _amount() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    """Exact amounts as in 0003: NUMERIC(78, 0) on PostgreSQL, decimal TEXT on SQLite."""
    return sa.String(78) if op.get_bind().dialect.name == "sqlite" else sa.Numeric(78, 0)


def _id(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), autoincrement=False, nullable=False)


def _big(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _addr(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=42), nullable=False)


def _closed() -> list[sa.Column]:  # type: ignore[type-arg]
    return [_big("closed_block", True), sa.Column("closed_tx", sa.String(length=66), nullable=True)]


def _created(prefix: str = "created") -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        _big(f"{prefix}_block"),
        sa.Column(f"{prefix}_tx", sa.String(length=66), nullable=False),
        _big(f"{prefix}_at"),
    ]


# state table -> (primary key, indexed columns)
STATE = {
    "quote_request": ("request_id", ("token_id", "certificate_id", "seller")),
    "quote": ("quote_id", ("request_id", "factor")),
    "early_payment_offer": ("offer_id", ("token_id", "certificate_id", "debtor")),
    "programme": ("programme_id", ("debtor",)),
    "recourse_claim": ("offer_id", ("certificate_id", "seller", "factor")),
}


def _state_columns() -> dict[str, list[sa.Column]]:  # type: ignore[type-arg]
    amount = _amount
    return {
        "quote_request": [
            _id("request_id"),
            _big("token_id"),
            _big("certificate_id"),
            sa.Column("tier", sa.Integer(), nullable=False),
            _addr("seller"),
            sa.Column("value", amount(), nullable=False),
            _big("deadline"),
            sa.Column("recourse", sa.Boolean(), nullable=False),
            sa.Column("document_hash", sa.String(length=66), nullable=False),
            sa.Column("status", sa.String(length=10), nullable=False),
            _big("quote_id", True),
            _big("offer_id", True),
            *_created(),
            *_closed(),
        ],
        "quote": [
            _id("quote_id"),
            _big("request_id"),
            _addr("factor"),
            sa.Column("rate_bps", sa.Integer(), nullable=False),
            sa.Column("price", amount(), nullable=False),
            sa.Column("days_to_maturity", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=10), nullable=False),
            *_created(),
            *_closed(),
        ],
        "early_payment_offer": [
            _id("offer_id"),
            _big("token_id"),
            _big("certificate_id"),
            sa.Column("tier", sa.Integer(), nullable=False),
            _addr("debtor"),
            sa.Column("value", amount(), nullable=False),
            sa.Column("rate_bps", sa.Integer(), nullable=False),
            _big("expires_at"),
            sa.Column("status", sa.String(length=10), nullable=False),
            *_created(),
            *_closed(),
        ],
        "programme": [
            _id("programme_id"),
            _addr("debtor"),
            sa.Column("rate_bps", sa.Integer(), nullable=False),
            sa.Column("budget", amount(), nullable=False),
            sa.Column("remaining", amount(), nullable=False),
            sa.Column("status", sa.String(length=8), nullable=False),
            *_created("opened"),
            *_closed(),
        ],
        "recourse_claim": [
            _id("offer_id"),
            _big("token_id"),
            _big("certificate_id"),
            _addr("seller"),
            _addr("factor"),
            sa.Column("status", sa.String(length=8), nullable=False),
            sa.Column("claimed_value", amount(), nullable=False),
            sa.Column("claimed_amount", amount(), nullable=False),
            sa.Column("settled_value", amount(), nullable=True),
            sa.Column("settled_amount", amount(), nullable=True),
            *_created("exercised"),
            _big("settled_block", True),
            sa.Column("settled_tx", sa.String(length=66), nullable=True),
            _big("settled_at", True),
        ],
    }


def _version(name: str, pk: str) -> None:
    """`<name>_version` with the state table's columns as this backend has them (as 0006 does)."""
    cols = sa.inspect(op.get_bind()).get_columns(name)
    table = f"{name}_version"
    op.create_table(
        table,
        *[sa.Column(c["name"], c["type"], nullable=c["nullable"], autoincrement=False) for c in cols],
        sa.Column("valid_from_block", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("valid_to_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(pk, "valid_from_block"),
    )
    op.create_index(f"ix_{table}_valid_from_block", table, ["valid_from_block"])


def upgrade() -> None:
    bind = op.get_bind()
    for table in ("financing_offer", "financing_offer_version"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="direct"))
            batch_op.add_column(sa.Column("invited", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("tier", sa.Integer(), nullable=False, server_default="0"))
            batch_op.add_column(sa.Column("quote_id", sa.BigInteger(), nullable=True))
        # the tier its holding has now (a holding's tier only grows by whole transfers)
        bind.execute(
            sa.text(
                f"UPDATE {table} SET tier = COALESCE((SELECT h.tier FROM holding h "
                f"WHERE h.token_id = {table}.token_id), 0)"
            )
        )
    for name, columns in _state_columns().items():
        pk, indexed = STATE[name]
        op.create_table(name, *columns, sa.PrimaryKeyConstraint(pk))
        for col in indexed:
            op.create_index(f"ix_{name}_{col}", name, [col])
        _version(name, pk)
    op.create_table(
        "early_payment",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        _big("certificate_id"),
        _big("token_id"),
        sa.Column("tier", sa.Integer(), nullable=False),
        _addr("holder"),
        _addr("debtor"),
        sa.Column("value", _amount(), nullable=False),
        sa.Column("price", _amount(), nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("days_early", sa.Integer(), nullable=False),
        _big("offer_id"),
        _big("programme_id"),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    for col in ("timestamp", "certificate_id", "holder", "debtor"):
        op.create_index(f"ix_early_payment_{col}", "early_payment", [col])


def downgrade() -> None:
    op.drop_table("early_payment")
    for name in reversed(STATE):
        op.drop_table(f"{name}_version")
        op.drop_table(name)
    for table in ("financing_offer_version", "financing_offer"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for col in ("quote_id", "tier", "invited", "kind"):
                batch_op.drop_column(col)
