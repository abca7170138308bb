"""Tables of the referral schema, with the platform's outbox, inbox and parked events."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from hearth_platform.tables import PlatformTables

metadata = MetaData(schema="referral")
platform = PlatformTables(metadata)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("referrer_id", Text, nullable=False),
    Column("referral_date", Date, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("provider_org_id", Text),
    Column("goals_of_care_discussed", Boolean),
    Column("status", Text, nullable=False),
    Column("idempotency_key", Text, unique=True),
    # The quarterback who owns the referral since triage, and the assessment booked.
    Column("coordinator_id", Text),
    Column("assessment_scheduled_for", Date),
    Column("assessment_mode", Text),
    Index("referrals_member", "member_id"),
    # At most one open referral per member, whichever process or batch tries to add a second.
    Index(
        "referrals_one_open_per_member",
        "member_id",
        unique=True,
        postgresql_where=text(
            "status IN ('received', 'triaged', 'outreach', 'assessment_scheduled', 'assessed')"
        ),
    ),
)

transitions = Table(
    "referral_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", Text, ForeignKey("referrals.referral_id"), nullable=False, index=True),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", Text, primary_key=True),
    Column("referral_id", Text, ForeignKey("referrals.referral_id"), nullable=False, index=True),
    Column("member_id", Text, nullable=False),
    Column("assessed_on", Date, nullable=False),
    Column("decision", Text, nullable=False),
    # The structured findings as sent in AssessmentCompleted (no free text).
    Column("findings", JSONB, nullable=False),
)

# Each FHIR ServiceRequest Hearth accepted, the Task that reports on it and the referral it became
# (several ServiceRequests may link to one open referral of the member). `request_key` is the
# sender's order identifier, hashed: a resend answers with the same Task.
service_requests = Table(
    "fhir_service_requests",
    metadata,
    Column("service_request_id", Text, primary_key=True),
    Column("task_id", Text, nullable=False, unique=True),
    Column("referral_id", Text, ForeignKey("referrals.referral_id"), nullable=False, index=True),
    Column("referrer_id", Text, nullable=False),
    Column("request_key", Text, unique=True),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)
