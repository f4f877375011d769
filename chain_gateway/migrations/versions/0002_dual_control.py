"""Dual control (maker-checker): users' roles inside their member, members' approval policies, the
approval records, and the operation states ``awaiting_approval``, ``rejected`` and ``expired``.

PostgreSQL: the new states are added to the ``opstate`` type (``ALTER TYPE ... ADD VALUE``, allowed in
the migration's transaction because nothing uses them before it commits). SQLite: the state columns
are VARCHAR sized to the longest state, so they are widened (a batch copy of the two tables).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = ("queued", "submitted", "mined", "confirmed", "failed")
NEW_STATES = ("awaiting_approval", "rejected", "expired")
STATES = ("awaiting_approval", *OLD_STATES, "rejected", "expired")
MEMBER_ROLES = ("admin", "maker", "checker")


def upgrade() -> None:
    bind = op.get_bind()
    when = sa.DateTime(timezone=True)
    member_role = sa.Enum(*MEMBER_ROLES, name="memberrole")
    member_role.create(bind, checkfirst=True)
    state = sa.Enum(*STATES, name="opstate")
    if bind.dialect.name == "postgresql":
        for value in NEW_STATES:
            op.execute(f"ALTER TYPE opstate ADD VALUE IF NOT EXISTS '{value}'")
    with op.batch_alter_table("gw_api_key") as t:
        t.add_column(sa.Column("member_role", member_role, nullable=True))
    with op.batch_alter_table("gw_operation") as t:
        t.add_column(sa.Column("maker_id", sa.Integer, nullable=True))
        t.add_column(sa.Column("approvals", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("approvals_required", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("approval_expires_at", when, nullable=True))
        if bind.dialect.name != "postgresql":
            t.alter_column("state", type_=state, existing_nullable=False)
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("gw_webhook_outbox") as t:
            t.alter_column("state", type_=state, existing_nullable=False)
    op.create_table(
        "gw_approval_policy",
        sa.Column("account", sa.String(42), primary_key=True),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.Integer, nullable=True),
        sa.Column("updated_at", when, nullable=False),
    )
    op.create_table(
        "gw_approval",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.String(36), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("user_label", sa.String, nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint("operation_id", "user_id", name="uq_gw_approval_user"),
        sa.Index("ix_gw_approval_operation_id", "operation_id"),
        sa.Index("ix_gw_approval_account", "account"),
    )


def downgrade() -> None:
    """Drops the dual-control tables and columns (PostgreSQL keeps the added ``opstate`` values: a
    type's values cannot be dropped)."""
    bind = op.get_bind()
    op.drop_table("gw_approval")
    op.drop_table("gw_approval_policy")
    with op.batch_alter_table("gw_operation") as t:
        for name in ("approval_expires_at", "approvals_required", "approvals", "maker_id"):
            t.drop_column(name)
    with op.batch_alter_table("gw_api_key") as t:
        t.drop_column("member_role")
    sa.Enum(*MEMBER_ROLES, name="memberrole").drop(bind, checkfirst=True)
