"""API keys of the clearing agent: the role `clearing_agent` (the licensed bank that mints and burns
the settlement currency). SQLite stores the role as text and needs nothing; PostgreSQL's enum type
`role` gets the value.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # allowed in a transaction (PostgreSQL 12+); the value is usable once it commits
        op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'clearing_agent'")


def downgrade() -> None:
    """PostgreSQL cannot drop an enum value; a store downgraded keeps it (0001's code never writes it)."""
