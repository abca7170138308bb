"""Tables of the quality schema, with the platform's outbox, inbox and parked events.

Facts are stored as they arrive, each kind in its own table keyed by its natural id, so that a
late or out-of-order event (a disenrolment before its enrolment, an assessment after the month
closed) is simply stored and joined when a period is computed; nothing waits or is parked.
Results are versioned: every computation of a period is a new `run`, earlier rows stay with
`current = false`.
"""

from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    text,
)

from hearth_platform.tables import PlatformTables

metadata = MetaData(schema="quality")
platform = PlatformTables(metadata)

enrolments = Table(
    "enrolments",
    metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("tier", Text, nullable=False),
    Column("line_of_business", Text),
    Column("market", Text),
    Index("enrolments_period", "effective_date"),
    # A member's enrolments with one organization: intake checks and one member's scores.
    Index("enrolments_member_org", "member_id", "provider_org_id"),
)

disenrolments = Table(
    "disenrolments",
    metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    # The first day the member is no longer enrolled.
    Column("effective_date", Date, nullable=False),
    Column("reason", Text, nullable=False),
)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("effective_date", Date, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("from_tier", Text, nullable=False),
    Column("to_tier", Text, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("assessed_on", Date, nullable=False),
    Column("surrogate_identified", Boolean, nullable=False),
    Column("surrogate_relationship", Text),
    Column("goals_of_care_documented", Boolean, nullable=False),
    Column("advance_directive_on_file", Boolean, nullable=False),
    # The referral the assessment answers, and which optional findings it carried (their names,
    # never their values): data completeness is measured from these.
    Column("referral_id", Text),
    Column("present_fields", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Index("assessments_member", "member_id"),
    Index("assessments_referral", "referral_id"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("referral_date", Date, nullable=False),
    Column("provider_org_id", Text),
    Index("referrals_date", "referral_date"),
    Index("referrals_member", "member_id"),
)

# Periods that already have results and received late facts since: recomputed once the facts
# have settled (one run for a burst of late facts, not one per fact).
pending_recomputes = Table(
    "pending_recomputes",
    metadata,
    Column("period", Text, primary_key=True),
    Column("first_late_at", DateTime(timezone=True), nullable=False),
    Column("late_facts", Integer, nullable=False),
)

measure_runs = Table(
    "measure_runs",
    metadata,
    Column("period", Text, primary_key=True),
    Column("run", Integer, primary_key=True),
    # "month_closed" or "on_demand", and the event that caused it (the MonthClosed id) if any.
    Column("trigger", Text, nullable=False),
    Column("cause_event_id", Text),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

measure_results = Table(
    "measure_results",
    metadata,
    Column("score_id", Text, primary_key=True),
    Column("period", Text, nullable=False),
    Column("run", Integer, nullable=False),
    Column("measure_id", Text, nullable=False),
    Column("measure_version", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("numerator", Integer, nullable=False),
    Column("denominator", Integer, nullable=False),
    # Members (or units) that met the denominator but were excluded, for the record.
    Column("exclusions", Integer, nullable=False, server_default=text("0")),
    Column("rate", Numeric(9, 6)),
    Column("reported", Boolean, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["period", "run"], ["measure_runs.period", "measure_runs.run"]),
    # At most one current result per measure, organization and period.
    Index(
        "measure_results_one_current",
        "period",
        "measure_id",
        "provider_org_id",
        unique=True,
        postgresql_where=text("current"),
    ),
    Index("measure_results_run", "period", "run"),
)

visits = Table(
    "visits",
    metadata,
    Column("visit_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("visit_date", Date, nullable=False),
    Column("discipline", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("visits_member", "member_id"),
    Index("visits_date", "visit_date"),
)

surveys = Table(
    "surveys",
    metadata,
    Column("survey_id", Text, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("provider_org_id", Text, nullable=False),
    Column("survey_date", Date, nullable=False),
    Column("mode", Text, nullable=False),
    Column("proxy", Boolean, nullable=False),
    # The four "Feeling Heard and Understood" items, 1..5 (5 = "completely true").
    Column("heard_and_understood", SmallInteger, nullable=False),
    Column("best_interests_first", SmallInteger, nullable=False),
    Column("seen_as_person", SmallInteger, nullable=False),
    Column("understood_what_matters", SmallInteger, nullable=False),
    Column("pain_help", SmallInteger),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("surveys_member", "member_id"),
    Index("surveys_date", "survey_date"),
)

claim_lines = Table(
    "claim_lines",
    metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("member_id", Text, nullable=False),
    Column("claim_type", Text, nullable=False),
    Column("service_from", Date, nullable=False),
    Column("service_to", Date, nullable=False),
    Column("admission_type", Text),
    Column("ed_visit", Boolean, nullable=False),
    # UB-04 patient discharge status: 20, 40, 41, 42 say the member died.
    Column("discharge_status", Text),
    Index("claim_lines_member", "member_id"),
    Index("claim_lines_service_from", "service_from"),
)
