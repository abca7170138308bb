"""bulk import: history tables without foreign keys, partial indexes for open caseloads and idempotency keys

Why (each measured on a 5,000-line referral list, Postgres CPU per chunk):
- referral_transitions, referral_assignments and referral_referrers lose their foreign key to
  referrals (~90 ms, a per-row trigger on each): their rows are written only by the intake
  statement, in the same statement that creates or finds the referral, and by the lifecycle and
  worklist code right after it updated (and so locked) the referral's row; referrals are never
  deleted. The key checked nothing those writers allow.
- referrals_coordinator (every referral ever assigned) becomes referrals_open_by_coordinator (the
  open ones): assignment counts each coordinator's open caseload for every batch, and every
  reader of coordinator_id (caseloads, the worklist) asks for open referrals only.
- The unique idempotency key is indexed only where there is one: imported lines have none.

Revision ID: 9888939ef124
Revises: 6dba2da122fd
Create Date: 2026-11-24 03:30:19.749651
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9888939ef124"
down_revision: str | None = "6dba2da122fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        op.f("referral_assignments_referral_id_fkey"),
        "referral_assignments",
        schema="referral",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("referral_referrers_referral_id_fkey"),
        "referral_referrers",
        schema="referral",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("referral_transitions_referral_id_fkey"),
        "referral_transitions",
        schema="referral",
        type_="foreignkey",
    )
    op.drop_index(op.f("referrals_coordinator"), table_name="referrals", schema="referral")
    op.drop_constraint(op.f("referrals_idempotency_key_key"), "referrals", schema="referral", type_="unique")
    op.create_index(
        "referrals_idempotency_key",
        "referrals",
        ["idempotency_key"],
        unique=True,
        schema="referral",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "referrals_open_by_coordinator",
        "referrals",
        ["coordinator_id"],
        unique=False,
        schema="referral",
        postgresql_where=sa.text(
            "status IN ('received', 'triaged', 'outreach', 'assessment_scheduled', 'assessed')"
        ),
    )


def downgrade() -> None:
    op.drop_index(
        "referrals_open_by_coordinator",
        table_name="referrals",
        schema="referral",
        postgresql_where=sa.text(
            "status IN ('received', 'triaged', 'outreach', 'assessment_scheduled', 'assessed')"
        ),
    )
    op.drop_index(
        "referrals_idempotency_key",
        table_name="referrals",
        schema="referral",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_unique_constraint(
        op.f("referrals_idempotency_key_key"),
        "referrals",
        ["idempotency_key"],
        schema="referral",
        postgresql_nulls_not_distinct=False,
    )
    op.create_index(
        op.f("referrals_coordinator"), "referrals", ["coordinator_id"], unique=False, schema="referral"
    )
    op.create_foreign_key(
        op.f("referral_transitions_referral_id_fkey"),
        "referral_transitions",
        "referrals",
        ["referral_id"],
        ["referral_id"],
        source_schema="referral",
        referent_schema="referral",
    )
    op.create_foreign_key(
        op.f("referral_referrers_referral_id_fkey"),
        "referral_referrers",
        "referrals",
        ["referral_id"],
        ["referral_id"],
        source_schema="referral",
        referent_schema="referral",
    )
    op.create_foreign_key(
        op.f("referral_assignments_referral_id_fkey"),
        "referral_assignments",
        "referrals",
        ["referral_id"],
        ["referral_id"],
        source_schema="referral",
        referent_schema="referral",
    )
