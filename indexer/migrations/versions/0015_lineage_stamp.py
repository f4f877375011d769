"""lineage stamp: the holdings' versions indexed by certificate and block
(`ix_holding_version_cert_block`, in place of `ix_holding_version_certificate_id`, its prefix), so
the newest version of a certificate's holdings (`reports.lineage_stamp`: the auditor API keeps a
lineage while it is unchanged) is one index probe; the as-of lineage reads the same index

Revision ID: 0015_lineage_stamp
Revises: 0013_report_totals
Create Date: 2026-12-03 22:40:00

An index only: PostgreSQL and SQLite fill it as it is created.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_lineage_stamp"
down_revision: str | None = "0013_report_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_holding_version_cert_block", "holding_version", ["certificate_id", "valid_from_block"])
    op.drop_index("ix_holding_version_certificate_id", table_name="holding_version")


def downgrade() -> None:
    op.create_index("ix_holding_version_certificate_id", "holding_version", ["certificate_id"])
    op.drop_index("ix_holding_version_cert_block", table_name="holding_version")
