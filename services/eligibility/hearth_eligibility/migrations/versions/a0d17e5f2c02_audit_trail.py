"""audit trail

Revision ID: a0d17e5f2c02
Revises: cae4c2c93b09
Create Date: 2026-11-23 23:15:00
"""

from collections.abc import Sequence

from hearth_platform.migrations import create_audit_table_v1, drop_audit_table_v1

revision: str = "a0d17e5f2c02"
down_revision: str | None = "cae4c2c93b09"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table_v1("eligibility")


def downgrade() -> None:
    drop_audit_table_v1("eligibility")
