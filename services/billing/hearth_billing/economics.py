"""The economic evaluation of the bundled payment (the payment toolkit's "setting the standard"):
for each provider organization, and for the program, what the plan paid in bundled payments per
member-month next to what the same members' claims cost per member-month before and after they
enrolled, their hospital days, and the claims cost saved per dollar of bundled payment.

Definitions (per organization; the window is a range of closed months `from`..`to`):
- members: the members with a PMPM line on one of the organization's invoices in the window;
- member-months enrolled: their distinct (member, month) PMPM lines in the window;
- bundled paid: every line of the organization's invoices in the window (PMPM, assessment fees,
  DME, withholds, incentives, adjustments): all the program paid the organization;
- claims cost after: the members' claims in their enrolled member-months (`claims.lines`, a claim
  dated by its first service day);
- claims cost before: their claims in the `months_before` calendar months before the month each
  first enrolled with the organization; member-months before = members x months_before;
- hospital days: days of inpatient stays (economics.toml), in the same months;
- return per dollar paid = (claims PMPM before - claims PMPM after) / bundled PMPM.

Rounding, half-up: each PMPM to cents; hospital days per 1,000 member-months to one decimal; the
return per dollar to cents, computed from the rounded PMPMs shown, so a reader checks it from the
row itself. A ratio whose denominator is zero is null, never a guess.
"""

import csv
import io
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hearth_schemas import ClaimLineReceived

from .money import to_cents

DEFAULT_ECONOMICS_FILE = Path(__file__).parent / "economics.toml"
TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class EconomicsSettings:
    version: str
    months_before: int
    inpatient_claim_types: frozenset[str]
    minimum_stay_days: int


def read_economics(path: Path = DEFAULT_ECONOMICS_FILE) -> EconomicsSettings:
    """The evaluation's data file, checked at start-up: a bad file stops the start."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    settings = EconomicsSettings(
        version=str(data["version"]),
        months_before=int(data["months_before"]),
        inpatient_claim_types=frozenset(data["inpatient_claim_types"]),
        minimum_stay_days=int(data["minimum_stay_days"]),
    )
    if not 1 <= settings.months_before <= 36:
        raise ValueError(f"{path}: months_before must be from 1 to 36")
    if settings.minimum_stay_days < 0:
        raise ValueError(f"{path}: minimum_stay_days must not be negative")
    return settings


def hospital_days(line: ClaimLineReceived, settings: EconomicsSettings) -> int:
    """The days of the stay a line belongs to (0 for a line that is not an inpatient stay)."""
    if line.claim_type not in settings.inpatient_claim_types:
        return 0
    return max((line.service_to - line.service_from).days, settings.minimum_stay_days)


def claim_cost_row(event_id: str, line: ClaimLineReceived, settings: EconomicsSettings) -> dict[str, Any]:
    return {
        "claim_id": line.claim_id,
        "line_number": line.line_number,
        "member_id": line.member_id,
        "service_month": date(line.service_from.year, line.service_from.month, 1).isoformat(),
        "paid_amount": str(line.paid_amount),
        "inpatient_days": hospital_days(line, settings),
        "event_id": event_id,
    }


def latest_per_line(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim line, the last received: a batch may carry a line and its correction."""
    return list({(r["claim_id"], r["line_number"]): r for r in rows}.values())


@dataclass(frozen=True, slots=True)
class OrganizationTotals:
    """The sums the SQL aggregate returns for one organization (None: the whole program)."""

    provider_org_id: str | None
    members: int
    member_months: int
    bundled_paid: Decimal
    claims_before: Decimal
    hospital_days_before: int
    claims_after: Decimal
    hospital_days_after: int


@dataclass(frozen=True, slots=True)
class EconomicRow:
    # None on the program's row (an organization id could be any text, so no name is reserved).
    provider_org_id: str | None
    members: int
    member_months: int
    member_months_before: int
    bundled_paid: Decimal
    bundled_pmpm: Decimal | None
    claims_cost_before: Decimal
    claims_cost_pmpm_before: Decimal | None
    claims_cost_after: Decimal
    claims_cost_pmpm_after: Decimal | None
    hospital_days_before: int
    hospital_days_per_1000_before: Decimal | None
    hospital_days_after: int
    hospital_days_per_1000_after: Decimal | None
    return_per_dollar: Decimal | None


def _per(amount: Decimal, months: int) -> Decimal | None:
    return to_cents(amount / months) if months else None


def _per_thousand(days: int, months: int) -> Decimal | None:
    if not months:
        return None
    return (Decimal(days) * 1000 / months).quantize(TENTH, rounding=ROUND_HALF_UP)


def evaluate(totals: OrganizationTotals, months_before: int) -> EconomicRow:
    before_months = totals.members * months_before
    bundled = _per(totals.bundled_paid, totals.member_months)
    before = _per(totals.claims_before, before_months)
    after = _per(totals.claims_after, totals.member_months)
    saved_per_dollar = None
    if bundled and before is not None and after is not None:
        saved_per_dollar = to_cents((before - after) / bundled)
    return EconomicRow(
        provider_org_id=totals.provider_org_id,
        members=totals.members,
        member_months=totals.member_months,
        member_months_before=before_months,
        bundled_paid=totals.bundled_paid,
        bundled_pmpm=bundled,
        claims_cost_before=totals.claims_before,
        claims_cost_pmpm_before=before,
        claims_cost_after=totals.claims_after,
        claims_cost_pmpm_after=after,
        hospital_days_before=totals.hospital_days_before,
        hospital_days_per_1000_before=_per_thousand(totals.hospital_days_before, before_months),
        hospital_days_after=totals.hospital_days_after,
        hospital_days_per_1000_after=_per_thousand(totals.hospital_days_after, totals.member_months),
        return_per_dollar=saved_per_dollar,
    )


def program_totals(organizations: Sequence[OrganizationTotals]) -> OrganizationTotals:
    """The whole program: the organizations' sums added up (a member who enrolled with two
    organizations counts in both, as each organization was paid for them)."""
    return OrganizationTotals(
        provider_org_id=None,
        members=sum(o.members for o in organizations),
        member_months=sum(o.member_months for o in organizations),
        bundled_paid=sum((o.bundled_paid for o in organizations), Decimal("0.00")),
        claims_before=sum((o.claims_before for o in organizations), Decimal("0.00")),
        hospital_days_before=sum(o.hospital_days_before for o in organizations),
        claims_after=sum((o.claims_after for o in organizations), Decimal("0.00")),
        hospital_days_after=sum(o.hospital_days_after for o in organizations),
    )


COLUMNS = tuple(f.name for f in fields(EconomicRow))


def report_csv(rows: Sequence[EconomicRow]) -> str:
    """One row per organization (and the program), RFC 4180 with a header; empty cell for null."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if getattr(row, c) is None else str(getattr(row, c)) for c in COLUMNS])
    return out.getvalue()
