"""Tables of the referral schema, with the platform's outbox, inbox and parked events."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from hearth_platform.tables import PlatformTables

from .claims_layout import CLAIM_CSV_COLUMNS
from .domain import OPEN, Status

metadata = MetaData(schema="referral")
platform = PlatformTables(metadata)

#: The open statuses (domain.OPEN, in lifecycle order) as the partial indexes' predicate; a
#: statement meant to use those indexes says the same list literally (not as a bound array), so
#: the planner can prove it whatever plan it caches.
OPEN_LIST = ", ".join(f"'{s.value}'" for s in Status if s in OPEN)
OPEN_PREDICATE = f"status IN ({OPEN_LIST})"

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
    Column("idempotency_key", Text),
    # The quarterback who owns the referral since triage, and the assessment booked.
    Column("coordinator_id", Text),
    Column("assessment_scheduled_for", Date),
    Column("assessment_mode", Text),
    Index("referrals_member", "member_id"),
    # Only a retried `POST /referrals` looks a key up, and most referrals (every imported line)
    # have none: indexing only the keys spares each of them an index entry.
    Index(
        "referrals_idempotency_key",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    # Caseloads (assignment, the worklist) count and list open referrals only: an index of the
    # open ones keeps that count proportional to today's work, not to every referral ever made.
    Index("referrals_open_by_coordinator", "coordinator_id", postgresql_where=text(OPEN_PREDICATE)),
    # At most one open referral per member, whichever process or batch tries to add a second.
    Index("referrals_one_open_per_member", "member_id", unique=True, postgresql_where=text(OPEN_PREDICATE)),
)

# The history tables below (transitions, assignments, referrers) carry no foreign key to
# `referrals`: their rows are written only by the intake statement, in the same statement that
# created or found the referral, and by the lifecycle and worklist code right after it updated
# (and so locked) the referral's row; referrals are never deleted. The key's per-row check cost
# about a fifth of a bulk import's time in Postgres and guarded nothing those writers allow.
transitions = Table(
    "referral_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", Text, nullable=False, index=True),
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
    # The organization whose client sent it: the Task is that organization's closed loop.
    Column("referrer_org_id", Text, index=True),
)

# A referral list imported with an Idempotency-Key (scoped to the sender's organization) and what
# the import answered: a retry with the same key answers the same, and imports nothing again.
referral_imports = Table(
    "referral_imports",
    metadata,
    Column("idempotency_key", Text, primary_key=True),
    Column("answer", JSONB),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

# Every organization whose client referred the member into this referral (the one that created it
# and any whose later referral was linked to it): each keeps seeing its referral's status.
referral_referrers = Table(
    "referral_referrers",
    metadata,
    Column("referral_id", Text, primary_key=True),
    Column("org_id", Text, primary_key=True),
    Index("referral_referrers_org", "org_id"),
)

# The quarterback's queue: care coordinators and the organization each works for. New referrals are
# assigned to one automatically; every assignment (automatic or by hand) is kept with who and why.
coordinators = Table(
    "coordinators",
    metadata,
    Column("coordinator_id", Text, primary_key=True),
    Column("provider_org_id", Text, nullable=False, index=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

# Each coordinator's open caseload as signed changes: their sum is the number of open referrals
# the coordinator holds. Written only by triggers on `referrals` (migration b7c41e2d9a30): +n per
# INSERT statement, -1/+1 when an update moves a referral between coordinators or closes it. Each
# insert folds the changes no concurrent transaction is folding into one row per coordinator, so
# the table stays about a row per coordinator while assignment reads the counts without counting
# every open referral (and two batches in flight never wait on each other's counts).
caseload_changes = Table(
    "caseload_changes",
    metadata,
    Column("coordinator_id", Text, nullable=False),
    Column("change", Integer, nullable=False),
)

assignments = Table(
    "referral_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", Text, nullable=False, index=True),
    Column("coordinator_id", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

# The provider organization a member is attributed to, as eligibility last said (coverage decisions
# carry it): the first choice when a referral is assigned.
member_attributions = Table(
    "member_attributions",
    metadata,
    Column("member_id", Text, primary_key=True),
    Column("provider_org_id", Text, nullable=False),
    Column("as_of", Date, nullable=False),
)

# The layout of a claims import (columns of the documented CSV, all text so a bad cell is reported,
# not fatal). Never written itself: each import COPYs into a temporary table made LIKE it.
claim_line_staging = Table(
    "claim_line_staging",
    metadata,
    Column("line", BigInteger, Identity(start=2), primary_key=True),
    *(Column(name, Text) for name in CLAIM_CSV_COLUMNS),
)

# What case-finding keeps of the claims: only the lines that say something about a member's
# illness or frailty (a condition group, an unplanned admission, an ED visit, oxygen or a hospital
# bed, hospice, death), one row per (line, signal, code), the rolling profile and the evidence.
claim_signals = Table(
    "claim_signals",
    metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("signal", Text, primary_key=True),
    Column("code", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("service_date", Date, nullable=False),
    Index("claim_signals_member", "member_id", "service_date"),
)

# Why case-finding referred a member: the rule set, the score and its parts, the claims behind it.
case_findings = Table(
    "case_findings",
    metadata,
    Column("referral_id", Text, ForeignKey("referrals.referral_id"), primary_key=True),
    Column("member_id", Text, nullable=False, index=True),
    Column("rule_set_version", Text, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("score", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("condition_groups", JSONB, nullable=False),
    Column("explanation", JSONB, nullable=False),
    Column("evidence", JSONB, nullable=False),
)
