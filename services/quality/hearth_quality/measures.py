"""The measure catalogue: each measure declared once, as data plus small predicates or tallies.

Thresholds that come from measure specifications (windows, minimum counts, code lists) are read
from `measures.toml`, never constants inside the engine; a change there that changes results is a
new version of the measure.
"""

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .domain import Assessment, Case, Measure, Period, Scorable
from .measures_access import access_measures
from .measures_experience import feeling_heard_measures
from .measures_outcomes import days_at_home, hospice_transition
from .measures_utilization import utilization_measures
from .measures_visits import visit_measures
from .sql_declaration import SqlDeclaration

PARAMETERS: Mapping[str, Any] = tomllib.loads((Path(__file__).parent / "measures.toml").read_text())


@dataclass(frozen=True)
class DocumentedWithinWindow:
    """A care process documented in an assessment within `window_days` of enrolment.

    A member counts as a success as soon as an assessment dated inside the window documents it
    (the initial assessment precedes enrolment, so it counts), and as a miss only once the whole
    window has passed without it. A member still inside the window with nothing yet is left out
    of the month and counted when the outcome is known. A member who left (death, hospice) before
    the window ran out, with nothing documented, is excluded: the team never had the full window.
    Facts are only looked at up to the period's last day, so a recomputation never looks past it.
    """

    documented: Callable[[Assessment], bool]
    window_days: int

    def window_end(self, case: Case) -> date:
        return case.enrolment.effective_date + timedelta(days=self.window_days)

    def documented_by(self, case: Case, last_day: date) -> bool:
        return any(self.documented(a) and a.assessed_on <= last_day for a in case.assessments)

    def met(self, case: Case, _period: Period) -> bool:
        return self.documented_by(case, self.window_end(case))

    def outcome_known(self, case: Case, period: Period) -> bool:
        end = self.window_end(case)
        return end <= period.end or self.documented_by(case, min(end, period.end))

    def left_within_window_without_it(self, case: Case, period: Period) -> bool:
        ended = case.enrolment.ended_on
        return ended is not None and ended <= self.window_end(case) and not self.met(case, period)


def documented_within_window(measure_id: str, title: str, params: Mapping[str, Any]) -> Measure:
    """`params["documented_by"]` names the assessment findings (MIPS #047: for the advance care
    plan, an advance directive on file or a documented goals-of-care conversation), any of which
    documents the care process."""
    findings = tuple(params["documented_by"])
    unknown = set(findings) - set(Assessment.__dataclass_fields__)
    if not findings or unknown:
        raise ValueError(f"{measure_id}: documented_by names no assessment finding {sorted(unknown)}")

    def documented(a: Assessment) -> bool:
        return any(getattr(a, f) for f in findings)

    rule = DocumentedWithinWindow(documented, int(params["window_days"]))
    return Measure(
        measure_id=measure_id,
        version=str(params["version"]),
        title=f"{title} within {rule.window_days} days of enrolment",
        denominator=rule.outcome_known,
        exclusions=rule.left_within_window_without_it,
        numerator=rule.met,
        minimum_denominator=int(params["minimum_denominator"]),
        sql=SqlDeclaration(
            "documented_within_window", {"window_days": rule.window_days, "documented_by": findings}
        ),
    )


def catalogue(params: Mapping[str, Any]) -> tuple[Scorable, ...]:
    """Every shipped measure, declared from `params` (the content of measures.toml)."""
    return (
        documented_within_window(
            "surrogate-identified",
            "Surrogate decision maker identified",
            params["surrogate_identified"],
        ),
        documented_within_window(
            "advance-care-plan-documented",
            "Advance directive on file or goals of care documented",
            params["advance_care_plan"],
        ),
        *feeling_heard_measures(params["feeling_heard"]),
        *visit_measures(params["visits"]),
        *utilization_measures(params["utilization"]),
        days_at_home(params["days_at_home"]),
        hospice_transition(params["hospice_transition"]),
        *access_measures(params["assessment_after_referral"], params["data_quality"]),
    )


def lookback_days(measures: tuple[Scorable, ...]) -> int:
    """How far before a period the facts of the catalogue reach (decedents who left for hospice,
    referrals whose window ends in the period)."""
    return max((int(getattr(m, "lookback_days", 0)) for m in measures), default=0)


CATALOGUE: tuple[Scorable, ...] = catalogue(PARAMETERS)
LOOKBACK_DAYS = lookback_days(CATALOGUE)
SURROGATE_IDENTIFIED: Measure = next(
    m for m in CATALOGUE if isinstance(m, Measure) and m.measure_id == "surrogate-identified"
)
ADVANCE_CARE_PLAN: Measure = next(
    m for m in CATALOGUE if isinstance(m, Measure) and m.measure_id == "advance-care-plan-documented"
)
