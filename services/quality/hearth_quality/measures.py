"""The measure catalogue: each measure declared once, as data plus three small predicates.

Thresholds that come from measure specifications (windows, minimum denominators) are parameters
of the declaration, never constants inside the engine.
"""

from datetime import date, timedelta

from .domain import Case, Measure, Period

SURROGATE_WINDOW_DAYS = 30


def _window_end(case: Case) -> date:
    return case.enrolment.effective_date + timedelta(days=SURROGATE_WINDOW_DAYS)


def _surrogate_identified_by(case: Case, last_day: date) -> bool:
    return any(a.surrogate_identified and a.assessed_on <= last_day for a in case.assessments)


def _surrogate_identified_in_window(case: Case, _period: Period) -> bool:
    """An assessment that identified a surrogate, dated on or before enrolment + 30 days. The
    initial assessment precedes enrolment, so a surrogate found there counts."""
    return _surrogate_identified_by(case, _window_end(case))


def _outcome_known(case: Case, period: Period) -> bool:
    """The member's outcome is known at the end of the period: either the 30 days have run out,
    or a surrogate was already identified within them (dated by the period's last day, so a
    recomputation never looks past the period)."""
    return _window_end(case) <= period.end or _surrogate_identified_by(
        case, min(_window_end(case), period.end)
    )


def _left_within_window_without_surrogate(case: Case, period: Period) -> bool:
    """Death, hospice or another disenrolment before the window ran out, with no surrogate yet:
    the team never had the full 30 days, so the member does not count against it."""
    ended = case.enrolment.ended_on
    left_early = ended is not None and ended <= _window_end(case)
    return left_early and not _surrogate_identified_in_window(case, period)


SURROGATE_IDENTIFIED = Measure(
    measure_id="surrogate-identified",
    version="1",
    title="Surrogate decision maker identified within 30 days of enrolment",
    # Members enrolled at any time in the month whose outcome is known by the month's last day:
    # a member counts as a success as soon as a surrogate is identified, and as a miss only once
    # the full 30 days have passed without one. A member still inside the window with no
    # surrogate yet is left out of this month and counted when the outcome is known.
    denominator=_outcome_known,
    exclusions=_left_within_window_without_surrogate,
    numerator=_surrogate_identified_in_window,
    minimum_denominator=1,
)

CATALOGUE: tuple[Measure, ...] = (SURROGATE_IDENTIFIED,)
