"""Every SQL family by name: what a measure's `SqlDeclaration.family` may name."""

from collections.abc import Mapping

from . import sql_cases, sql_memberships, sql_units
from .set_based import Compiler

FAMILIES: Mapping[str, Compiler] = {
    "documented_within_window": sql_cases.documented_within_window,
    "latest_assessment_complete": sql_cases.latest_assessment_complete,
    "visits": sql_memberships.visits,
    "top_box_surveys": sql_memberships.top_box_surveys,
    "claim_events": sql_memberships.claim_events,
    "days_at_home": sql_memberships.days_at_home,
    "hospice_transition": sql_units.hospice_transition,
    "assessment_after_referral": sql_units.assessment_after_referral,
}
