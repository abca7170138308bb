"""The ledger: what billing has learned that it may have to pay for.

Two kinds of entries, each recording the ids of the events it came from so an invoice line can
be traced back to the facts behind it:
- assessment-fee accruals, one per assessment, owed whether or not the member enrols;
- enrolment spans: per member, the days enrolled with an organization at a tier.

Enrolment changes may carry effective dates in the past. Every change rewrites the member's
timeline from its effective date onward (enrol: enrolled with this organization from then on;
tier change: this tier from then on; disenrolment: not enrolled from then on), so the spans always
describe what eligibility last said, whatever order the effective dates came in.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from hearth_platform.ids import new_id
from hearth_schemas import AssessmentCompleted

from .contracts import Contract, ContractBook

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class AssessmentFee:
    accrual_id: str
    assessment_id: str
    member_id: str
    provider_org_id: str
    service_date: date
    amount: Decimal
    contract_id: str
    contract_version: int
    # The AssessmentCompleted event the fee was accrued from.
    source_event_id: str
    # Why the assessment accrues 0.00 (inside the fee window of a paid one); None when paid.
    reason: str | None = None

    @property
    def paid(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class PaidFee:
    """An assessment whose fee was paid: the window of later (and earlier) ones counts from it."""

    assessment_id: str
    service_date: date


def accrue_assessment_fees(
    book: ContractBook,
    assessments: Iterable[tuple[str, AssessmentCompleted]],
    paid: Mapping[str, Sequence[PaidFee]] | None = None,
) -> list[AssessmentFee]:
    """One fee per assessment (the first event wins if an assessment is reported twice), priced
    by the contract in force for the organization on the day of the assessment. The line of
    business is not known at assessment time, so only contracts for any line of business apply.

    The fee is paid at most once per member per `assessment_fee_window_days` of that contract,
    whatever organization assessed: an assessment fewer days than that from an assessment already
    paid for the member (`paid`, then the ones paid earlier in this run), before or after it,
    accrues 0.00 with the reason naming the paid one. Assessments are taken in the order they
    arrived, so a replay of the same events pays the same ones."""
    fees: dict[str, AssessmentFee] = {}
    in_force: dict[tuple[str, date], Contract] = {}
    paid_by_member: dict[str, list[PaidFee]] = {m: list(p) for m, p in (paid or {}).items()}
    for event_id, assessment in assessments:
        if assessment.assessment_id in fees:
            continue
        key = (assessment.provider_org_id, assessment.assessed_on)
        if key not in in_force:
            in_force[key] = book.in_force(assessment.provider_org_id, None, assessment.assessed_on)
        contract = in_force[key]
        member_paid = paid_by_member.setdefault(assessment.member_id, [])
        inside = _inside_window(contract, assessment.assessed_on, member_paid)
        # Positional, in the field order: one per consumed event, and keywords cost a third more.
        fee = AssessmentFee(
            new_id(),  # accrual_id
            assessment.assessment_id,
            assessment.member_id,
            assessment.provider_org_id,
            assessment.assessed_on,  # service_date
            contract.assessment_fee if inside is None else Decimal("0.00"),  # amount
            contract.contract_id,
            contract.version,  # contract_version
            event_id,  # source_event_id
            None if inside is None else _window_reason(contract, inside),  # reason
        )
        if fee.paid:
            member_paid.append(PaidFee(fee.assessment_id, fee.service_date))
        fees[assessment.assessment_id] = fee
    return list(fees.values())


def _inside_window(contract: Contract, day: date, paid: Sequence[PaidFee]) -> PaidFee | None:
    """The paid assessment whose window `day` falls in, the nearest first; None when none."""
    window = contract.terms.assessment_fee_window_days
    if window is None:
        return None
    near = [p for p in paid if abs((p.service_date - day).days) < window]
    return min(near, key=lambda p: (abs((p.service_date - day).days), p.service_date), default=None)


def _window_reason(contract: Contract, paid: PaidFee) -> str:
    return (
        f"fee already paid for assessment {paid.assessment_id} on {paid.service_date.isoformat()}: "
        f"at most once per {contract.terms.assessment_fee_window_days} days "
        f"(contract {contract.contract_id} v{contract.version})"
    )


@dataclass(frozen=True)
class Span:
    """Days `start`..`end` (inclusive; `end` None = still enrolled) with one organization at one
    tier, within one enrollment."""

    enrollment_id: str
    provider_org_id: str
    tier: str
    line_of_business: str | None
    start: date
    end: date | None
    source_event_ids: tuple[str, ...]

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)

    def ends_before(self, day: date) -> bool:
        return self.end is not None and self.end < day

    def caused_by(self, event_id: str) -> "Span":
        if event_id in self.source_event_ids:
            return self
        return replace(self, source_event_ids=(*self.source_event_ids, event_id))


@dataclass
class Enrolment:
    """One member's enrolment timeline: non-overlapping spans, ordered by start."""

    member_id: str
    spans: list[Span]
    changed: bool = False

    def knows(self, enrollment_id: str) -> bool:
        return any(s.enrollment_id == enrollment_id for s in self.spans)

    def enrol(
        self,
        *,
        enrollment_id: str,
        provider_org_id: str,
        tier: str,
        line_of_business: str | None,
        on: date,
        event_id: str,
    ) -> None:
        """Enrolled with this organization from `on`: whatever the timeline said from then on
        (an earlier enrolment elsewhere, say) ends the day before."""
        self._end_from(on, event_id, lambda s: True)
        self.spans.append(Span(enrollment_id, provider_org_id, tier, line_of_business, on, None, (event_id,)))
        self._settle()

    def change_tier(self, *, enrollment_id: str, tier: str, on: date, event_id: str) -> None:
        """The enrollment's days from `on` onward are at `tier`; a span across `on` splits."""
        result: list[Span] = []
        for span in self.spans:
            if span.enrollment_id != enrollment_id or span.ends_before(on):
                result.append(span)
            elif span.start >= on:
                result.append(replace(span, tier=tier).caused_by(event_id))
            else:
                result.append(replace(span, end=on - ONE_DAY).caused_by(event_id))
                result.append(replace(span, start=on, tier=tier).caused_by(event_id))
        self.spans = result
        self._settle()

    def disenrol(self, *, enrollment_id: str, on: date, event_id: str) -> None:
        """`on` is the first day the member is no longer enrolled: the enrollment ends the day
        before, and spans that start on or after `on` disappear (a retroactive disenrolment)."""
        self._end_from(on, event_id, lambda s: s.enrollment_id == enrollment_id)
        self._settle()

    def _end_from(self, on: date, event_id: str, affected: Callable[[Span], bool]) -> None:
        result: list[Span] = []
        for span in self.spans:
            if not affected(span) or span.ends_before(on):
                result.append(span)
            elif span.start < on:
                result.append(replace(span, end=on - ONE_DAY).caused_by(event_id))
        self.spans = result

    def _settle(self) -> None:
        self.spans.sort(key=lambda s: s.start)
        self.changed = True
