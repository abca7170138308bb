"""The coverage registry's rules: which plan covers a member on a day, as known at a moment.

Coverage is bitemporal. A span is valid from `start_date` to `end_date` (both inclusive; no end
date means open-ended) and was recorded at `recorded_at`. Spans are never changed: a correction
(an end date learned later, a new attributed provider) is a new span that `supersedes` the old
one. So "what did we know at X about day Y" reads the spans recorded by X that no span recorded
by X had superseded, and takes the one covering Y.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from hearth_platform.errors import Conflict, Invalid, NotFound

LineOfBusiness = Literal["medi_cal", "medicare_advantage", "d_snp", "commercial"]
LINES_OF_BUSINESS: tuple[str, ...] = get_args(LineOfBusiness)


@dataclass(frozen=True)
class CoverageSpan:
    span_id: str
    member_id: str
    plan_id: str
    line_of_business: str
    market: str
    aco_id: str | None
    provider_org_id: str | None
    start_date: date
    end_date: date | None
    recorded_at: datetime
    supersedes_span_id: str | None = None

    def covers(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def overlaps(self, start: date, end: date | None) -> bool:
        return (end is None or self.start_date <= end) and (self.end_date is None or start <= self.end_date)

    def same_facts(self, other: "CoverageSpan") -> bool:
        """Whether `other` states exactly what this span states (a re-sent roster line)."""
        return (
            self.member_id,
            self.plan_id,
            self.line_of_business,
            self.market,
            self.aco_id,
            self.provider_org_id,
            self.start_date,
            self.end_date,
        ) == (
            other.member_id,
            other.plan_id,
            other.line_of_business,
            other.market,
            other.aco_id,
            other.provider_org_id,
            other.start_date,
            other.end_date,
        )

    def describe(self) -> str:
        until = self.end_date.isoformat() if self.end_date else "open-ended"
        return f"span {self.span_id} (plan {self.plan_id}, {self.start_date.isoformat()} to {until})"


class CoverageOverlap(Conflict):
    def __init__(self, existing: CoverageSpan) -> None:
        super().__init__(
            f"the new span overlaps {existing.describe()} of member {existing.member_id}; "
            f"end or correct that span by posting a span with supersedes_span_id={existing.span_id}",
            detail=[{"field": "start_date", "reason": f"overlaps span {existing.span_id}"}],
        )
        self.existing = existing


class SpanNotFound(NotFound):
    def __init__(self, member_id: str, span_id: str) -> None:
        super().__init__(f"member {member_id} has no coverage span {span_id}")


class SpanAlreadySuperseded(Conflict):
    def __init__(self, span_id: str, by: str) -> None:
        super().__init__(f"span {span_id} was already superseded by span {by}; supersede that one instead")


class NoCoverage(NotFound):
    def __init__(self, member_id: str, on: date) -> None:
        super().__init__(f"member {member_id} has no coverage in force on {on.isoformat()}")


@dataclass(frozen=True)
class CoverageHistory:
    """Every span ever recorded for one member, superseded ones included."""

    member_id: str
    spans: tuple[CoverageSpan, ...]

    @classmethod
    def of(cls, member_id: str, spans: Iterable[CoverageSpan]) -> "CoverageHistory":
        return cls(member_id, tuple(sorted(spans, key=lambda s: (s.recorded_at, s.span_id))))

    def current(self, known_at: datetime | None = None) -> list[CoverageSpan]:
        """The spans in effect as known at `known_at` (now when omitted)."""
        known = [s for s in self.spans if known_at is None or s.recorded_at <= known_at]
        superseded = {s.supersedes_span_id for s in known if s.supersedes_span_id}
        return [s for s in known if s.span_id not in superseded]

    def in_force(self, on: date, known_at: datetime | None = None) -> CoverageSpan | None:
        # Current spans never overlap (add refuses it), so at most one covers a day.
        return next((s for s in self.current(known_at) if s.covers(on)), None)

    def lost_on(self, since: date) -> date | None:
        """The first day from `since` on without coverage in effect (following back-to-back
        spans, as after a change of plan), or None while coverage runs on open-ended. A member
        enrolled from `since` loses the benefit's funding that day."""
        current = self.current()
        day = since
        while (span := next((s for s in current if s.covers(day)), None)) is not None:
            if span.end_date is None:
                return None
            day = span.end_date + timedelta(days=1)
        return day

    def overlapping(self, start: date, end: date | None) -> list[CoverageSpan]:
        """The spans in effect now that share at least one day with `start`..`end`."""
        return [s for s in self.current() if s.overlaps(start, end)]

    def superseder_of(self, span_id: str) -> CoverageSpan | None:
        return next((s for s in self.spans if s.supersedes_span_id == span_id), None)

    def check_new(self, start: date, end: date | None, supersedes: str | None) -> None:
        """Refuse a span that overlaps a span in effect (other than the one it replaces)."""
        if end is not None and end < start:
            raise Invalid(
                "end_date is before start_date",
                detail=[{"field": "end_date", "reason": "must be on or after start_date"}],
            )
        if supersedes is not None:
            if not any(s.span_id == supersedes for s in self.spans):
                raise SpanNotFound(self.member_id, supersedes)
            if (later := self.superseder_of(supersedes)) is not None:
                raise SpanAlreadySuperseded(supersedes, later.span_id)
        for span in self.current():
            if span.span_id != supersedes and span.overlaps(start, end):
                raise CoverageOverlap(span)
