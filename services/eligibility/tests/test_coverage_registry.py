"""Coverage spans: overlap refused with the span named, corrections by supersession, and the
bitemporal question "what did we know at X about day Y"."""

from datetime import UTC, date, datetime, timedelta

import pytest

from hearth_eligibility.coverage import (
    CoverageHistory,
    CoverageOverlap,
    CoverageSpan,
    SpanAlreadySuperseded,
    SpanNotFound,
)
from hearth_platform.errors import Invalid

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def span(
    span_id: str,
    start: date,
    end: date | None,
    *,
    at: datetime = T0,
    supersedes: str | None = None,
    org: str | None = "org-1",
) -> CoverageSpan:
    return CoverageSpan(
        span_id, "M-1", "plan-1", "medi_cal", "alameda", None, org, start, end, at, supersedes
    )


def history(*spans: CoverageSpan) -> CoverageHistory:
    return CoverageHistory.of("M-1", spans)


JAN_TO_JUN = span("s1", date(2026, 1, 1), date(2026, 6, 30))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 6, 30), None),  # end dates are inclusive: the last day overlaps
        (date(2025, 12, 1), date(2026, 1, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2025, 1, 1), None),
    ],
)
def test_overlapping_span_is_refused_naming_the_span(start, end):
    with pytest.raises(CoverageOverlap) as refused:
        history(JAN_TO_JUN).check_new(start, end, None)
    assert refused.value.existing.span_id == "s1"
    assert "span s1" in refused.value.message and refused.value.status_code == 409


@pytest.mark.parametrize(("start", "end"), [(date(2026, 7, 1), None), (date(2025, 1, 1), date(2025, 12, 31))])
def test_adjacent_spans_do_not_overlap(start, end):
    history(JAN_TO_JUN).check_new(start, end, None)


def test_open_ended_span_overlaps_everything_after_its_start():
    open_ended = history(span("s1", date(2026, 1, 1), None))
    with pytest.raises(CoverageOverlap):
        open_ended.check_new(date(2030, 1, 1), date(2030, 1, 31), None)


def test_end_before_start_is_invalid_naming_the_field():
    with pytest.raises(Invalid) as refused:
        history().check_new(date(2026, 2, 1), date(2026, 1, 1), None)
    assert refused.value.detail[0]["field"] == "end_date"


def test_a_correction_supersedes_the_span_it_overlaps():
    history(JAN_TO_JUN).check_new(date(2026, 1, 1), date(2026, 3, 31), "s1")


def test_a_span_is_superseded_at_most_once_and_must_exist():
    corrected = history(JAN_TO_JUN, span("s2", date(2026, 1, 1), date(2026, 3, 31), supersedes="s1"))
    with pytest.raises(SpanAlreadySuperseded):
        corrected.check_new(date(2026, 1, 1), date(2026, 2, 28), "s1")
    with pytest.raises(SpanNotFound):
        corrected.check_new(date(2026, 1, 1), date(2026, 2, 28), "nope")


def test_in_force_finds_the_span_covering_the_day():
    covered = history(JAN_TO_JUN, span("s2", date(2026, 7, 1), None, org="org-2"))
    assert covered.in_force(date(2026, 6, 30)).span_id == "s1"
    assert covered.in_force(date(2026, 7, 1)).span_id == "s2"
    assert covered.in_force(date(2025, 12, 31)) is None


def test_what_we_knew_then_differs_from_what_we_know_now():
    learned_later = T0 + timedelta(days=60)
    ended_early = span("s2", date(2026, 1, 1), date(2026, 3, 31), at=learned_later, supersedes="s1")
    both = history(JAN_TO_JUN, ended_early)
    may = date(2026, 5, 1)
    assert both.in_force(may) is None  # now we know coverage ended in March
    assert both.in_force(may, known_at=T0 + timedelta(days=1)).span_id == "s1"  # then we did not
    assert both.in_force(may, known_at=T0 - timedelta(days=1)) is None  # before anything was recorded
    assert [s.span_id for s in both.current()] == ["s2"]


def test_coverage_is_lost_the_day_after_the_last_covered_day_following_back_to_back_spans():
    first = span("a", date(2026, 1, 1), date(2026, 6, 30))
    second = span("b", date(2026, 7, 1), date(2026, 11, 10))
    history = CoverageHistory.of("M-1", [first, second])
    assert history.lost_on(date(2026, 3, 1)) == date(2026, 11, 11)
    # A gap of one day loses coverage on that day.
    gap = CoverageHistory.of("M-1", [first, span("c", date(2026, 7, 2), None)])
    assert gap.lost_on(date(2026, 3, 1)) == date(2026, 7, 1)
    # Open-ended coverage is never lost; no coverage at all is lost at once.
    assert CoverageHistory.of("M-1", [span("d", date(2026, 1, 1), None)]).lost_on(date(2026, 3, 1)) is None
    assert CoverageHistory.of("M-1", []).lost_on(date(2026, 3, 1)) == date(2026, 3, 1)


def test_a_termination_superseding_open_coverage_loses_it_after_its_end():
    open_ended = span("a", date(2026, 1, 1), None)
    ended = span("b", date(2026, 1, 1), date(2026, 11, 10), at=T0 + timedelta(days=300), supersedes="a")
    assert CoverageHistory.of("M-1", [open_ended, ended]).lost_on(date(2026, 11, 5)) == date(2026, 11, 11)
