"""visits surveys and claim lines

Revision ID: 2be192f71d5f
Revises: 1ba666c5d775
Create Date: 2026-11-23 21:10:08.360670
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2be192f71d5f"
down_revision: str | None = "1ba666c5d775"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("claim_type", sa.Text(), nullable=False),
        sa.Column("service_from", sa.Date(), nullable=False),
        sa.Column("service_to", sa.Date(), nullable=False),
        sa.Column("admission_type", sa.Text(), nullable=True),
        sa.Column("ed_visit", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("claim_id", "line_number"),
        schema="quality",
    )
    op.create_index("claim_lines_member", "claim_lines", ["member_id"], unique=False, schema="quality")
    op.create_index(
        "claim_lines_service_from", "claim_lines", ["service_from"], unique=False, schema="quality"
    )
    op.create_table(
        "surveys",
        sa.Column("survey_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("provider_org_id", sa.Text(), nullable=False),
        sa.Column("survey_date", sa.Date(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("proxy", sa.Boolean(), nullable=False),
        sa.Column("heard_and_understood", sa.SmallInteger(), nullable=False),
        sa.Column("best_interests_first", sa.SmallInteger(), nullable=False),
        sa.Column("seen_as_person", sa.SmallInteger(), nullable=False),
        sa.Column("understood_what_matters", sa.SmallInteger(), nullable=False),
        sa.Column("pain_help", sa.SmallInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("survey_id"),
        schema="quality",
    )
    op.create_index("surveys_date", "surveys", ["survey_date"], unique=False, schema="quality")
    op.create_index("surveys_member", "surveys", ["member_id"], unique=False, schema="quality")
    op.create_table(
        "visits",
        sa.Column("visit_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("provider_org_id", sa.Text(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("discipline", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("visit_id"),
        schema="quality",
    )
    op.create_index("visits_date", "visits", ["visit_date"], unique=False, schema="quality")
    op.create_index("visits_member", "visits", ["member_id"], unique=False, schema="quality")


def downgrade() -> None:
    op.drop_index("visits_member", table_name="visits", schema="quality")
    op.drop_index("visits_date", table_name="visits", schema="quality")
    op.drop_table("visits", schema="quality")
    op.drop_index("surveys_member", table_name="surveys", schema="quality")
    op.drop_index("surveys_date", table_name="surveys", schema="quality")
    op.drop_table("surveys", schema="quality")
    op.drop_index("claim_lines_service_from", table_name="claim_lines", schema="quality")
    op.drop_index("claim_lines_member", table_name="claim_lines", schema="quality")
    op.drop_table("claim_lines", schema="quality")
