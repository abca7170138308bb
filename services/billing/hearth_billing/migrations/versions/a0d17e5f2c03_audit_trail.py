"""audit trail

Revision ID: a0d17e5f2c03
Revises: 9187fc44c9b4
Create Date: 2026-11-23 23:15:00
"""

from collections.abc import Sequence

from hearth_platform.migrations import create_audit_table_v1, drop_audit_table_v1

revision: str = "a0d17e5f2c03"
down_revision: str | None = "9187fc44c9b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table_v1("billing")


def downgrade() -> None:
    drop_audit_table_v1("billing")
