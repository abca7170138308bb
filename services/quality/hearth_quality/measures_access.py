"""Access and data: how fast referred members are assessed, and how complete and timely the
data provider organizations report is.

`assessment-within-<N>-days-of-referral`: one unit per referral, counted in the period in which
its window (referral date + N days) ends, so every referral is counted once and its outcome is
known when it is. Attributed to the organization that assessed it, else the organization it was
sent to; a referral with neither cannot be attributed and is left out. Met when an assessment of
that referral is dated within the window. Excluded: the member died within the window without
an assessment (nobody could have assessed them).

`visits-reported-within-<N>-days`: the share of the organization's visits in the period that
reached quality within N days of the visit date.

`assessment-fields-complete`: the share of members enrolled in the period whose latest
assessment up to the period's end carries every required finding (the list is data); a member
with no assessment at all is a miss.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from .domain import Assessment, Case, Measure, Period, Population
from .facts import Visit
from .ratio import Membership, RatioMeasure
from .sql_declaration import SqlDeclaration
from .unit_measure import DeathRule, Unit, UnitMeasure, enrolments_by_member


def assessment_after_referral(params: Mapping[str, Any]) -> UnitMeasure:
    window = int(params["window_days"])
    rule = DeathRule.of(params)

    def referrals(population: Population, period: Period) -> Iterable[Unit]:
        by_referral: dict[str, list[Assessment]] = defaultdict(list)
        for assessments in population.assessments.values():
            for a in assessments:
                if a.referral_id is not None:
                    by_referral[a.referral_id].append(a)
        enrolments = enrolments_by_member(population)
        for referral in population.referrals:
            window_end = referral.referral_date + timedelta(days=window)
            if not period.start <= window_end <= period.end:
                continue
            assessed = sorted(
                by_referral.get(referral.referral_id, ()), key=lambda a: (a.assessed_on, a.assessment_id)
            )
            org = assessed[0].provider_org_id if assessed else referral.provider_org_id
            if org is None:
                continue
            met = any(a.assessed_on <= window_end for a in assessed)
            died = rule.date_of_death(
                enrolments.get(referral.member_id, ()), population.claim_lines.get(referral.member_id, ())
            )
            excluded = not met and died is not None and died <= window_end
            yield Unit(org, referral.referral_id, numerator=met, excluded=excluded)

    return UnitMeasure(
        measure_id=f"assessment-within-{window}-days-of-referral",
        version=str(params["version"]),
        title=f"Referrals assessed within {window} days",
        units=referrals,
        minimum_denominator=int(params["minimum_referrals"]),
        lookback_days=window,
        sql=SqlDeclaration("assessment_after_referral", params),
    )


def visits_reported_on_time(params: Mapping[str, Any]) -> RatioMeasure:
    days = int(params["visit_report_days"])

    def visits(m: Membership, period: Period) -> tuple[Visit, ...]:
        return m.visits_in(period)

    def on_time(m: Membership, period: Period) -> int:
        return sum(
            1
            for v in visits(m, period)
            if v.received_on is not None and (v.received_on - v.visit_date).days <= days
        )

    def reported(m: Membership, period: Period) -> int:
        return len(visits(m, period))

    return RatioMeasure(
        measure_id=f"visits-reported-within-{days}-days",
        version=str(params["version"]),
        title=f"Visits reported to the plan within {days} days of the visit",
        numerator=on_time,
        denominator=reported,
        minimum_denominator=int(params["minimum_visits"]),
        sql=SqlDeclaration("visits", {"where": {"reported_within_days": days}, "per": "visit"}),
    )


def assessment_fields_complete(params: Mapping[str, Any]) -> Measure:
    required = frozenset(params["required_assessment_fields"])

    def enrolled(_case: Case, _period: Period) -> bool:
        return True

    def complete(case: Case, period: Period) -> bool:
        known = [a for a in case.assessments if a.assessed_on <= period.end]
        return bool(known) and required <= known[-1].present_fields

    return Measure(
        measure_id="assessment-fields-complete",
        version=str(params["version"]),
        title=f"Members whose latest assessment records {', '.join(sorted(required))}",
        denominator=enrolled,
        numerator=complete,
        minimum_denominator=int(params["minimum_members"]),
        sql=SqlDeclaration("latest_assessment_complete", {"required_fields": sorted(required)}),
    )


def access_measures(
    referral_params: Mapping[str, Any], data_params: Mapping[str, Any]
) -> tuple[UnitMeasure | RatioMeasure | Measure, ...]:
    return (
        assessment_after_referral(referral_params),
        visits_reported_on_time(data_params),
        assessment_fields_complete(data_params),
    )
