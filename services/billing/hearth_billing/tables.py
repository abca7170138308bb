"""Tables of the billing schema, with the platform's outbox, inbox and parked events."""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from hearth_platform.tables import PlatformTables

metadata = MetaData(schema="billing")
platform = PlatformTables(metadata)

MONEY = Numeric(14, 2)

# Contract versions as loaded from the contract files at start-up; invoice lines name the version
# they were priced by, and the close joins these tables to price member-months in SQL.
contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date),
    Column("provider_org_id", Text, nullable=False),
    Column("line_of_business", Text, nullable=False),
    Column("proration", Text, nullable=False),
    Column("assessment_fee", MONEY, nullable=False),
    # sha256 of the immutable content: a version loaded again with other rates is refused.
    Column("fingerprint", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Parameters of the proration rule (contract_terms.py); NULL where the rule takes none.
    Column("attribution_day", Integer),
    Column("threshold_days", Integer),
    Column("short_later_month", Text),
    Column("withhold_percent", Numeric(5, 2), nullable=False, server_default=text("0")),
    # The fee is paid at most once per member in this many days (NULL: every assessment).
    Column("assessment_fee_window_days", Integer),
)

contract_rates = Table(
    "contract_rates",
    metadata,
    Column("contract_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tier", Text, primary_key=True),
    Column("pmpm", MONEY, nullable=False),
    # The day_threshold rule's rate for a month with fewer enrolled days.
    Column("partial_pmpm", MONEY),
    ForeignKeyConstraint(["contract_id", "version"], ["contracts.contract_id", "contracts.version"]),
)

contract_earn_back = Table(
    "contract_earn_back",
    metadata,
    Column("contract_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("measure_id", Text, primary_key=True),
    Column("target_rate", Numeric(9, 6), primary_key=True),
    Column("share", Numeric(7, 6), nullable=False),
    ForeignKeyConstraint(["contract_id", "version"], ["contracts.contract_id", "contracts.version"]),
)

# Performance incentives: reaching target_rate on a measure pays a fixed amount or a percent of
# the PMPM paid for the score's period (exactly one of the two is set).
contract_incentives = Table(
    "contract_incentives",
    metadata,
    Column("contract_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("measure_id", Text, primary_key=True),
    Column("target_rate", Numeric(9, 6), primary_key=True),
    Column("amount", MONEY),
    Column("percent", Numeric(5, 2)),
    ForeignKeyConstraint(["contract_id", "version"], ["contracts.contract_id", "contracts.version"]),
)

# DME per HCPCS code: "allowance" (inside the PMPM) or "pass_through" billed up to cap.
contract_dme = Table(
    "contract_dme",
    metadata,
    Column("contract_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("hcpcs_code", Text, primary_key=True),
    Column("handling", Text, nullable=False),
    Column("cap", MONEY),
    ForeignKeyConstraint(["contract_id", "version"], ["contracts.contract_id", "contracts.version"]),
)


def _span_columns() -> list[Column[Any]]:
    """A member's enrolment span, as the ledger keeps it and as its history keeps it."""
    return [
        Column("member_id", Text, nullable=False),
        Column("enrollment_id", Text, nullable=False),
        Column("provider_org_id", Text, nullable=False),
        Column("tier", Text, nullable=False),
        Column("line_of_business", Text),
        Column("start_date", Date, nullable=False),
        # Inclusive; NULL while the member is still enrolled.
        Column("end_date", Date),
        Column("source_event_ids", ARRAY(Text), nullable=False),
        # The end of the member's previous span and the start of the next one (NULL: none), written
        # with the timeline: the close tells a member's last span of a month, and a span sharing its
        # month with another, from the row itself instead of sorting a million spans by member.
        Column("prev_end", Date),
        Column("next_start", Date),
    ]


enrolment_spans = Table(
    "enrolment_spans",
    metadata,
    Column("span_id", BigInteger, primary_key=True, autoincrement=True),
    *_span_columns(),
    # How many months were closed when the span was written: the closes numbered above it saw it
    # (months.close_number). An invoice's PMPM lines are the spans a close saw (invoice_pmpm_groups).
    Column("closes_before", Integer, nullable=False, server_default=text("0")),
    Index("enrolment_spans_member", "member_id"),
    Index("enrolment_spans_start", "start_date"),
)

# A span a close saw and a later change replaced: kept, so the invoices of the closes that saw it
# still name their members (closes numbered closes_before + 1 .. closes_through). A span replaced
# before any close saw it is simply gone.
enrolment_span_history = Table(
    "enrolment_span_history",
    metadata,
    Column("history_id", BigInteger, primary_key=True, autoincrement=True),
    *_span_columns(),
    Column("closes_before", Integer, nullable=False),
    Column("closes_through", Integer, nullable=False),
    Index("enrolment_span_history_member", "member_id"),
)

months = Table(
    "months",
    metadata,
    # Only closed months have a row; a month without one is open.
    Column("month", Text, primary_key=True),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("total_amount", MONEY, nullable=False),
    Column("member_months", Integer, nullable=False),
    Column("invoice_count", Integer, nullable=False),
    # 1 for the first close, 2 for the next: closes run one at a time, oldest month first.
    Column("close_number", Integer, nullable=False, unique=True),
)

invoices = Table(
    "invoices",
    metadata,
    Column("invoice_id", Text, primary_key=True),
    Column("month", Text, ForeignKey("months.month"), nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("total_amount", MONEY, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("currency", Text, nullable=False, server_default=text("'USD'")),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    # The line ids the close that issued the invoice took: its lines lie in this range.
    Column("first_line_id", BigInteger, nullable=False, server_default=text("0")),
    Column("last_line_id", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("month", "provider_org_id", name="invoices_one_per_org_and_month"),
)

# Written at the consumer's full rate, so only the indexes the rules need: the primary key is the
# assessment (one fee per assessment), the member and date find the fees paid inside a contract's
# window, and the service date serves the close.
assessment_fees = Table(
    "assessment_fees",
    metadata,
    Column("assessment_id", Text, primary_key=True),
    # A uuid4 made by billing and sent in AssessmentFeeAccrued.
    Column("accrual_id", Text, nullable=False),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("service_date", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("contract_id", Text, nullable=False),
    Column("contract_version", Integer, nullable=False),
    Column("source_event_ids", ARRAY(Text), nullable=False),
    Column("accrued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set by the close that bills the fee.
    Column("invoice_id", Text, ForeignKey("invoices.invoice_id")),
    # Why an assessment accrued 0.00 (inside the window of a fee already paid); NULL when paid.
    Column("reason", Text),
    Index("assessment_fees_service_date", "service_date"),
    Index("assessment_fees_member", "member_id", "service_date"),
)

# The lines a close writes one by one: fees, DME, adjustments, withholds, earn-backs, incentives
# (and the PMPM lines of closes before invoice_pmpm_groups). No foreign key to invoices: lines are
# only ever written by the close, in the transaction that writes their invoices. One index only,
# the primary key on line_id, which grows at its right edge: a close's lines take consecutive ids,
# its invoices record that range (first_line_id..last_line_id), and an invoice's lines are read by
# the range and the invoice id.
invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("line_id", BigInteger, primary_key=True, autoincrement=True),
    Column("invoice_id", Text, nullable=False),
    # NULL on lines of the whole invoice (withhold, earn-back).
    Column("member_id", Text),
    Column("kind", Text, nullable=False),
    Column("tier", Text),
    # The member's last enrolled day of the month (pmpm) or the assessment date (fee).
    Column("service_date", Date, nullable=False),
    Column("quantity", Numeric(12, 6), nullable=False),
    Column("unit_amount", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("contract_id", Text, nullable=False),
    Column("contract_version", Integer, nullable=False),
    Column("source_event_ids", ARRAY(Text), nullable=False),
    # Adjustments: the closed month they correct and why (late_changes reasons).
    Column("adjusted_month", Text),
    Column("reason", Text),
    # Earn-back: the score, measure, rate and rule the line was computed from.
    Column("detail", JSONB),
)

# The PMPM lines of an invoice, one row per group of member-months priced alike: the segment
# key the close grouped the month's spans by (organization, line of business, tier, the segment's
# first and last day in the month, whether it is the member's last segment of the month, the
# member's enrolled days in the month, whether the member had an earlier span), how many members
# the group holds and what each is paid. The members are not copied: they are the spans the close
# saw (enrolment_spans and enrolment_span_history by close number) with the same key
# (member_lines_sql.py), so a million-member close writes a few hundred rows, and every member's
# line still names the events of its span.
invoice_pmpm_groups = Table(
    "invoice_pmpm_groups",
    metadata,
    Column("group_id", BigInteger, primary_key=True, autoincrement=True),
    Column("invoice_id", Text, ForeignKey("invoices.invoice_id"), nullable=False),
    Column("provider_org_id", Text, nullable=False),
    # '' for spans without a line of business.
    Column("line_of_business", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("seg_start", Date, nullable=False),
    Column("seg_end", Date, nullable=False),
    Column("member_last", Boolean, nullable=False),
    Column("month_days", Integer, nullable=False),
    Column("earlier_span", Boolean, nullable=False),
    Column("members", Integer, nullable=False),
    # Each member's line:
    Column("service_date", Date, nullable=False),
    Column("quantity", Numeric(12, 6), nullable=False),
    Column("unit_amount", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("contract_id", Text, nullable=False),
    Column("contract_version", Integer, nullable=False),
    Column("counts_member_month", Boolean, nullable=False),
    Index("invoice_pmpm_groups_invoice", "invoice_id"),
)

# Enrolment changes whose effective date falls in a month already closed: the next close
# recomputes those members' closed months and posts the difference as adjustments.
late_changes = Table(
    "late_changes",
    metadata,
    Column("change_id", BigInteger, primary_key=True, autoincrement=True),
    Column("member_id", Text, nullable=False),
    # The first closed month the change affects.
    Column("from_month", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set by the close that posted the adjustments.
    Column("posted_month", Text),
    Index("late_changes_pending", "member_id", postgresql_where=text("posted_month IS NULL")),
)

# The latest PerformanceScored per organization, measure and period; the first close after the
# period applies the contract's earn-back once.
performance_scores = Table(
    "performance_scores",
    metadata,
    Column("provider_org_id", Text, primary_key=True),
    Column("measure_id", Text, primary_key=True),
    Column("period", Text, primary_key=True),
    Column("score_id", Text, nullable=False),
    Column("measure_version", Text, nullable=False),
    Column("first_month", Text, nullable=False),
    Column("last_month", Text, nullable=False),
    Column("numerator", Integer, nullable=False),
    Column("denominator", Integer, nullable=False),
    Column("rate", Numeric(9, 6)),
    Column("reported", Boolean, nullable=False),
    Column("run", Integer),
    Column("event_id", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("applied_month", Text),
)

# DME requests and their decisions (approved or refused, with the reason); an approved
# pass-through is billed (billed_amount, at most the cap) by the first close from its month.
dme_requests = Table(
    "dme_requests",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    # NULL when the member was not enrolled on the service date (refused).
    Column("provider_org_id", Text),
    Column("hcpcs_code", Text, nullable=False),
    Column("service_date", Date, nullable=False),
    Column("requested_amount", MONEY, nullable=False),
    Column("status", Text, nullable=False),
    Column("handling", Text),
    Column("reason", Text, nullable=False),
    Column("billed_amount", MONEY),
    Column("contract_id", Text),
    Column("contract_version", Integer),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set by the close that bills it.
    Column("invoice_id", Text, ForeignKey("invoices.invoice_id")),
    Index("dme_requests_member", "member_id"),
    Index(
        "dme_requests_unbilled",
        "service_date",
        postgresql_where=text("billed_amount > 0 AND invoice_id IS NULL"),
    ),
)

# The claims cost the economic evaluation compares with the bundled payment: one row per claim
# line from `claims.lines`, only the fields the evaluation reads. A corrected line (same claim and
# line number) replaces the earlier one, so cost is never counted twice.
claim_costs = Table(
    "claim_costs",
    metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("member_id", Text, nullable=False),
    # The first day of the month of the line's first service day.
    Column("service_month", Date, nullable=False),
    Column("paid_amount", MONEY, nullable=False),
    # Days of an inpatient stay (economics.toml); 0 on every other line.
    Column("inpatient_days", Integer, nullable=False),
    Column("event_id", Text, nullable=False),
    Index("claim_costs_member", "member_id", "service_month"),
)
