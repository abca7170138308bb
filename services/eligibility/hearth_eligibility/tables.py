"""Tables of the eligibility schema, with the platform's outbox, inbox and parked events."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from hearth_platform.tables import PlatformTables

metadata = MetaData(schema="eligibility")
platform = PlatformTables(metadata)

# Append-only: a correction is a new row that supersedes an older one (at most once).
coverage_spans = Table(
    "coverage_spans",
    metadata,
    Column("span_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False, index=True),
    Column("plan_id", Text, nullable=False),
    Column("line_of_business", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("aco_id", Text),
    Column("provider_org_id", Text),
    Column("start_date", Date, nullable=False),
    # Inclusive last day of coverage; NULL is open-ended.
    Column("end_date", Date),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("supersedes_span_id", Text, ForeignKey("coverage_spans.span_id"), unique=True),
)

# Referrals as eligibility saw them: the record that lets an assessment be evaluated.
referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False, index=True),
    Column("referral_date", Date, nullable=False),
    Column("provider_org_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("covered", Boolean, nullable=False),
    Column("span_id", Text, ForeignKey("coverage_spans.span_id")),
)

determinations = Table(
    "determinations",
    metadata,
    Column("determination_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False, index=True),
    Column("referral_id", Text),
    # One clinical determination per assessment: a redelivered assessment decides nothing twice.
    Column("assessment_id", Text, unique=True),
    Column("stage", Text, nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("criteria_version", Text),
    Column("span_id", Text, ForeignKey("coverage_spans.span_id")),
    Column("plan_id", Text),
    Column("line_of_business", Text),
    Column("provider_org_id", Text),
    # Per-criterion statuses with the values used (structured fields only, no free text).
    Column("explanation", JSONB, nullable=False),
    Column("determined_at", DateTime(timezone=True), nullable=False),
    Index(
        "determinations_one_coverage_per_referral",
        "referral_id",
        unique=True,
        postgresql_where=text("stage = 'coverage'"),
    ),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("tier_effective_date", Date, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("consent_on", Date, nullable=False),
    Column("plan_id", Text),
    Column("line_of_business", Text),
    Column("market", Text),
    Column("referral_id", Text),
    Column("assessment_id", Text),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    # First day no longer enrolled.
    Column("ended_on", Date),
    Column("end_reason", Text),
    Index("enrolments_member", "member_id"),
    # A member is never enrolled twice at once, whatever races.
    Index(
        "enrolments_one_open_per_member", "member_id", unique=True, postgresql_where=text("ended_on IS NULL")
    ),
)

# Every change to an enrolment (enrolled, tier changed, disenrolled), in the order it was learned.
enrolment_changes = Table(
    "enrolment_changes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("enrollment_id", Text, ForeignKey("enrolments.enrollment_id"), nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
