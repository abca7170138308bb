"""platform tables v2: outbox payload and headers as JSON text, inbox key with the event id second

Revision ID: 5582ee8168fe
Revises: a0d17e5f2c02
Create Date: 2026-11-24 03:50:00
"""

from collections.abc import Sequence

from hearth_platform.migrations import downgrade_platform_tables_v2, upgrade_platform_tables_v2

revision: str = "5582ee8168fe"
down_revision: str | None = "a0d17e5f2c02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_platform_tables_v2("eligibility")


def downgrade() -> None:
    downgrade_platform_tables_v2("eligibility")
