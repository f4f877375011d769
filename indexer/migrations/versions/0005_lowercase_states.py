"""states and roles spelled in lowercase (as the gateway spells them): certificate and offer
statuses `pending`, `active`, ..., `open`, `accepted`, `cancelled`; roles `core_enterprise`,
`supplier`, `factor`, `auditor`

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE certificate SET status = LOWER(status)")
    op.execute("UPDATE certificate_status_change SET status = LOWER(status)")
    op.execute("UPDATE financing_offer SET status = LOWER(status)")
    op.execute("UPDATE member SET role = CASE WHEN role = 'CoreEnterprise' THEN 'core_enterprise' ELSE LOWER(role) END")


def downgrade() -> None:
    for table in ("certificate", "certificate_status_change"):
        op.execute(f"UPDATE {table} SET status = UPPER(SUBSTR(status, 1, 1)) || SUBSTR(status, 2)")
    op.execute("UPDATE financing_offer SET status = UPPER(SUBSTR(status, 1, 1)) || SUBSTR(status, 2)")
    op.execute(
        "UPDATE member SET role = CASE WHEN role = 'core_enterprise' THEN 'CoreEnterprise' "
        "ELSE UPPER(SUBSTR(role, 1, 1)) || SUBSTR(role, 2) END"
    )
