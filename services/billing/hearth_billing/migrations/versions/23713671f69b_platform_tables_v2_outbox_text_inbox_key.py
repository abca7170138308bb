"""platform tables v2: outbox payload and headers as JSON text, inbox key with the event id second

Revision ID: 23713671f69b
Revises: 8ac3d2036424
Create Date: 2026-11-24 03:50:00
"""

from collections.abc import Sequence

from hearth_platform.migrations import downgrade_platform_tables_v2, upgrade_platform_tables_v2

revision: str = "23713671f69b"
down_revision: str | None = "8ac3d2036424"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_platform_tables_v2("billing")


def downgrade() -> None:
    downgrade_platform_tables_v2("billing")
