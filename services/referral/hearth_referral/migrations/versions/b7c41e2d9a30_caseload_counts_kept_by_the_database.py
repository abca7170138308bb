"""caseload counts kept by the database: each coordinator's open referrals as a sum of changes

Assignment counted every open referral of every active coordinator for each batch it assigned
(an index-only scan of all open referrals: 40 ms of a 5,000-line list at 250,000 open, growing
with the open caseload). `caseload_changes` holds signed changes per coordinator instead; their
sum is the coordinator's open caseload. Triggers on `referrals` write them, so no writer of a
referral (the intake statement, the lifecycle, reassignment, one added later) can forget to:
- after each INSERT statement: +n per coordinator for the open referrals it added, and the changes
  no concurrent transaction is folding right now are folded into one row per coordinator
  (FOR UPDATE SKIP LOCKED: two imports in flight never wait on each other's counts);
- after an UPDATE of a row whose coordinator or open/closed state changed: -1 for the coordinator
  it leaves, +1 for the one it joins.
Referrals are never deleted. Appending changes rather than updating one row per coordinator keeps
concurrent batches from serializing on those rows.

Revision ID: b7c41e2d9a30
Revises: 9888939ef124
Create Date: 2026-11-24 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c41e2d9a30"
down_revision: str | None = "9888939ef124"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The open statuses as of this revision (a migration does not import the service's code).
_OPEN = "('received', 'triaged', 'outreach', 'assessment_scheduled', 'assessed')"


def upgrade() -> None:
    op.create_table(
        "caseload_changes",
        sa.Column("coordinator_id", sa.Text(), nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        schema="referral",
    )
    op.execute(
        f"""
        INSERT INTO referral.caseload_changes (coordinator_id, change)
        SELECT coordinator_id, count(*) FROM referral.referrals
        WHERE coordinator_id IS NOT NULL AND status IN {_OPEN}
        GROUP BY coordinator_id
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION referral.caseload_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM added) THEN
                RETURN NULL;
            END IF;
            WITH folded AS (
                DELETE FROM referral.caseload_changes
                WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM referral.caseload_changes FOR UPDATE SKIP LOCKED
                ))
                RETURNING coordinator_id, change
            ), changes AS (
                SELECT coordinator_id, change FROM folded
                UNION ALL
                SELECT coordinator_id, 1 FROM added
                WHERE coordinator_id IS NOT NULL AND status IN {_OPEN}
            )
            INSERT INTO referral.caseload_changes (coordinator_id, change)
            SELECT coordinator_id, sum(change) FROM changes
            GROUP BY coordinator_id HAVING sum(change) <> 0;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER referrals_caseload_added AFTER INSERT ON referral.referrals
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION referral.caseload_count_added()
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION referral.caseload_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO referral.caseload_changes (coordinator_id, change)
            SELECT OLD.coordinator_id, -1
            WHERE OLD.coordinator_id IS NOT NULL AND OLD.status IN {_OPEN}
            UNION ALL
            SELECT NEW.coordinator_id, 1
            WHERE NEW.coordinator_id IS NOT NULL AND NEW.status IN {_OPEN};
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER referrals_caseload_moved AFTER UPDATE ON referral.referrals
        FOR EACH ROW
        WHEN (OLD.coordinator_id IS DISTINCT FROM NEW.coordinator_id
              OR (OLD.status IN {_OPEN}) <> (NEW.status IN {_OPEN}))
        EXECUTE FUNCTION referral.caseload_count_moved()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER referrals_caseload_moved ON referral.referrals")
    op.execute("DROP TRIGGER referrals_caseload_added ON referral.referrals")
    op.execute("DROP FUNCTION referral.caseload_count_moved()")
    op.execute("DROP FUNCTION referral.caseload_count_added()")
    op.drop_table("caseload_changes", schema="referral")
