"""Care delivery from the visits provider organizations report.

`visits-per-member-month-<discipline>`: visits by that discipline (dated in the month, on a day
the member was enrolled with the organization) per member-month; one measure per discipline, so
each fits PerformanceScored's numerator / denominator / rate. `telehealth-share`: the share of
all those visits, whatever the discipline, made by video or phone.
"""

from collections.abc import Mapping
from typing import Any

from .domain import Period
from .facts import Visit
from .ratio import Membership, RatioMeasure, member_months
from .sql_declaration import SqlDeclaration


def _visits(m: Membership, period: Period) -> tuple[Visit, ...]:
    return m.visits_in(period)


def visits_per_member_month(discipline: str, params: Mapping[str, Any]) -> RatioMeasure:
    def visits_by_discipline(m: Membership, period: Period) -> int:
        return sum(1 for v in _visits(m, period) if v.discipline == discipline)

    return RatioMeasure(
        measure_id=f"visits-per-member-month-{discipline.replace('_', '-')}",
        version=str(params["version"]),
        title=f"Visits per member-month by {discipline}",
        numerator=visits_by_discipline,
        denominator=member_months,
        minimum_denominator=int(params["minimum_member_months"]),
        sql=SqlDeclaration("visits", {"where": {"discipline": [discipline]}, "per": "member_month"}),
    )


def telehealth_share(params: Mapping[str, Any]) -> RatioMeasure:
    modes = frozenset(params["telehealth_modes"])

    def telehealth_visits(m: Membership, period: Period) -> int:
        return sum(1 for v in _visits(m, period) if v.mode in modes)

    def all_visits(m: Membership, period: Period) -> int:
        return len(_visits(m, period))

    return RatioMeasure(
        measure_id="telehealth-share",
        version=str(params["version"]),
        title=f"Share of visits made by {' or '.join(sorted(modes))}",
        numerator=telehealth_visits,
        denominator=all_visits,
        minimum_denominator=int(params["minimum_visits_for_telehealth_share"]),
        sql=SqlDeclaration("visits", {"where": {"mode": sorted(modes)}, "per": "visit"}),
    )


def visit_measures(params: Mapping[str, Any]) -> tuple[RatioMeasure, ...]:
    return (*(visits_per_member_month(d, params) for d in params["disciplines"]), telehealth_share(params))
