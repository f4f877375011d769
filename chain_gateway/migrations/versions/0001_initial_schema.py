"""The gateway store's schema as created by `create_all` + `upgrade_schema` up to this release: the
api keys, the operations, the nonces and the webhook outbox.

The schema is kept here as a frozen MetaData (not the models, which will change), so a store created
before Alembic (no version table) is adopted against exactly this revision: `schema()` is also what
chain_gateway.schema compares such a store with before stamping it.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("operator", "core_enterprise", "supplier", "factor", "auditor")
STATES = ("queued", "submitted", "mined", "confirmed", "failed")


def schema() -> sa.MetaData:
    md = sa.MetaData()
    when = sa.DateTime(timezone=True)
    state = sa.Enum(*STATES, name="opstate")
    sa.Table(
        "gw_api_key", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("role", sa.Enum(*ROLES, name="role"), nullable=False),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("onboarding_operation", sa.String(36), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Index("ix_gw_api_key_account", "account"),
        sa.Index("ix_gw_api_key_key_hash", "key_hash", unique=True),
        sa.Index("ix_gw_api_key_onboarding_operation", "onboarding_operation"),
    )
    sa.Table(
        "gw_nonce", md,
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("next_nonce", sa.BigInteger, nullable=False),
        sa.Column("updated_at", when, nullable=False),
    )
    sa.Table(
        "gw_operation", md,
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("api_account", sa.String(42), nullable=False),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("contract", sa.String(32), nullable=False),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", state, nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=True),
        sa.Column("gas_limit", sa.BigInteger, nullable=False),
        sa.Column("gas_price", sa.BigInteger, nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("tx_hashes", sa.JSON, nullable=False),
        sa.Column("raw_tx", sa.Text, nullable=True),
        sa.Column("sent_at", when, nullable=True),
        sa.Column("accepted_at", when, nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.Column("block_hash", sa.String(66), nullable=True),
        sa.Column("gas_used", sa.BigInteger, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.UniqueConstraint("api_account", "idempotency_key", name="uq_gw_op_idem"),
        sa.Index("ix_gw_op_account_seq", "api_account", "seq"),
        sa.Index("ix_gw_op_signer_state_nonce", "signer", "state", "nonce"),
        sa.Index("ix_gw_operation_api_account", "api_account"),
        sa.Index("ix_gw_operation_id", "id", unique=True),
        sa.Index("ix_gw_operation_signer", "signer"),
        sa.Index("ix_gw_operation_state", "state"),
        sa.Index("ix_gw_operation_tx_hash", "tx_hash"),
    )
    sa.Table(
        "gw_webhook_outbox", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.String(36), nullable=False),
        sa.Column("state", state, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("given_up_at", when, nullable=True),
        sa.Index("ix_gw_webhook_outbox_due", "given_up_at", "next_attempt_at", "id"),
        sa.Index("ix_gw_webhook_outbox_operation_id", "operation_id"),
    )
    return md


def upgrade() -> None:
    schema().create_all(op.get_bind())


def downgrade() -> None:
    schema().drop_all(op.get_bind())
