"""state history for "as of" reports: a `<table>_version` table per state table, and
`checkpoint.history_from_block`, an index on `block.timestamp` (`as_of` a time)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:10:00

Each version table has the state table's columns (taken from the database, so exactly the types
it has on this backend) plus `valid_from_block` (in the primary key) and `valid_to_block` (NULL:
current). An index built before this revision gets one version per existing row, valid from its
checkpoint block, and `history_from_block` = that block: "as of" queries work from there on (the
events do not carry every field of the older states: freezes, KYC hashes, document hashes). For
the whole history, re-index (`python -m indexer reset --yes`, then start). A new index records the
deployment block there on its first batch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = ("member", "credit_line", "certificate", "holding", "financing_offer", "currency_balance", "system_state")
PKS = {
    "member": "address",
    "credit_line": "debtor",
    "certificate": "id",
    "holding": "token_id",
    "financing_offer": "offer_id",
    "currency_balance": "address",
    "system_state": "key",
}
INDEXES = {"holding": ("certificate_id", "owner")}


def upgrade() -> None:
    bind = op.get_bind()
    insp = sa.inspect(bind)
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history_from_block", sa.BigInteger(), nullable=True))
    op.create_index("ix_block_timestamp", "block", ["timestamp"])
    start = bind.execute(sa.text("SELECT block_number FROM checkpoint WHERE id = 1")).scalar()
    for name in STATE:
        cols = insp.get_columns(name)
        table = f"{name}_version"
        op.create_table(
            table,
            *[sa.Column(c["name"], c["type"], nullable=c["nullable"], autoincrement=False) for c in cols],
            sa.Column("valid_from_block", sa.BigInteger(), nullable=False, autoincrement=False),
            sa.Column("valid_to_block", sa.BigInteger(), nullable=True),
            sa.PrimaryKeyConstraint(PKS[name], "valid_from_block"),
        )
        op.create_index(f"ix_{table}_valid_from_block", table, ["valid_from_block"])
        for col in INDEXES.get(name, ()):
            op.create_index(f"ix_{table}_{col}", table, [col])
        if start is not None:
            names = ", ".join(f'"{c["name"]}"' for c in cols)
            bind.execute(
                sa.text(
                    f"INSERT INTO {table} ({names}, valid_from_block, valid_to_block) "
                    f"SELECT {names}, :start, NULL FROM {name}"
                ),
                {"start": start},
            )
    if start is not None:
        bind.execute(sa.text("UPDATE checkpoint SET history_from_block = :start WHERE id = 1"), {"start": start})


def downgrade() -> None:
    op.drop_index("ix_block_timestamp", table_name="block")
    for name in STATE:
        op.drop_table(f"{name}_version")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_column("history_from_block")
