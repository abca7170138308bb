"""Utilization from the plan's claim lines: unplanned admissions and ED visits per 1,000
member-months (events / member-months x 12,000, the multiplier declared in the parameters).

Claims are not tied to an organization: an event counts for the organization the member was
enrolled with on its date, in the month of that date. An admission is one inpatient claim with an
unplanned admission type (emergency, urgent), dated by the earliest service date of its lines;
elective admissions are excluded. An ED visit is one claim and service date with an ED line.
"""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from .domain import Period
from .ratio import Membership, RatioMeasure, member_months
from .sql_declaration import SqlDeclaration


def unplanned_admissions(params: Mapping[str, Any]) -> RatioMeasure:
    claim_types = frozenset(params["admission_claim_types"])
    admission_types = frozenset(params["unplanned_admission_types"])

    def admissions(m: Membership, period: Period) -> int:
        admitted: dict[str, date] = {}
        for line in m.claim_lines:
            if line.claim_type in claim_types and line.admission_type in admission_types:
                first = admitted.get(line.claim_id)
                admitted[line.claim_id] = (
                    line.service_from if first is None else min(first, line.service_from)
                )
        return sum(1 for on in admitted.values() if m.counts(on, period))

    return RatioMeasure(
        measure_id="unplanned-admissions-per-1000-mm",
        version=str(params["version"]),
        title="Unplanned (emergency or urgent) inpatient admissions per 1,000 member-months",
        numerator=admissions,
        denominator=member_months,
        minimum_denominator=int(params["minimum_member_months"]),
        multiplier=Decimal(params["per_member_months"]),
        sql=SqlDeclaration(
            "claim_events",
            {
                "event": "admission",
                "claim_types": sorted(claim_types),
                "admission_types": sorted(admission_types),
            },
        ),
    )


def ed_visits(params: Mapping[str, Any]) -> RatioMeasure:
    def visits(m: Membership, period: Period) -> int:
        return len(
            {
                (line.claim_id, line.service_from)
                for line in m.claim_lines
                if line.ed_visit and m.counts(line.service_from, period)
            }
        )

    return RatioMeasure(
        measure_id="ed-visits-per-1000-mm",
        version=str(params["version"]),
        title="Emergency department visits per 1,000 member-months",
        numerator=visits,
        denominator=member_months,
        minimum_denominator=int(params["minimum_member_months"]),
        multiplier=Decimal(params["per_member_months"]),
        sql=SqlDeclaration("claim_events", {"event": "ed_visit"}),
    )


def utilization_measures(params: Mapping[str, Any]) -> tuple[RatioMeasure, ...]:
    return (unplanned_admissions(params), ed_visits(params))
