"""The terms of a contract beyond its rates: the parameters of its proration rule and its quality
withhold with earn-back. Parsed here so that `contracts.py` stays about versions and scope.

Proration parameters (each required by its rule and refused on any other rule, so a contract never
carries a parameter that silently does nothing):
- `attributed_on_day`: `attribution_day` (1-31; in a shorter month, the month's last day).
- `day_threshold`: `threshold_days` (1-31), `partial_pmpm` (a rate per tier, for a month with
  fewer enrolled days) and `short_later_month` ("full" or "partial": what a month with fewer days
  pays when it is not the member's first month in the program).
- `daily` and `full_month` take no parameter.

Quality terms (any rule):
- `withhold_percent`: a share of the PMPM withheld at close, a string such as "2.0" (0-100).
- `earn_back`: per measure id, a table of target rate -> share of the withheld amount earned back,
  e.g. `[contract.earn_back.surrogate_identified]` `"0.80" = "1.00"`, `"0.60" = "0.50"`; the highest
  target met wins. The largest shares of all measures add up to at most 1, so the earn-back can
  never exceed what was withheld.
- `incentive`: per measure id, a table of target rate -> `{ amount = "500.00" }` (a fixed payment)
  or `{ percent = "1.5" }` (of the PMPM paid to the organization for the score's period), e.g.
  `[contract.incentive.surrogate_identified]` `"0.90" = { amount = "500.00" }`; the highest target
  met wins, paid on the first close after the period (close_incentives.py).

Assessment fee (any rule): `assessment_fee_window_days` (1-3660): the fee is paid at most once per
member in that many days, whatever the organization: an assessment fewer than that many days from
an assessment already paid for the member (before or after it) accrues 0.00 with the reason
(ledger.py). Without it, every completed assessment is paid.

DME (any rule): `dme`, per HCPCS code, `{ handling = "allowance" }` (inside the PMPM: approved,
never billed apart) or `{ handling = "pass_through", cap = "1500.00" }` (billed as a DME line up
to the cap); a code the contract does not list is refused (dme.py).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .money import parse_amount

SHORT_LATER_MONTH = ("full", "partial")
RULE_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "full_month": (),
    "attributed_on_day": ("attribution_day",),
    "day_threshold": ("threshold_days", "partial_pmpm", "short_later_month"),
    "daily": (),
}
TERM_FIELDS = (
    "attribution_day",
    "threshold_days",
    "partial_pmpm",
    "short_later_month",
    "withhold_percent",
    "assessment_fee_window_days",
    "earn_back",
    "incentive",
    "dme",
)
DME_HANDLING = ("allowance", "pass_through")
HCPCS_PATTERN = r"^[A-Z][0-9]{4}$"
# Ten years: a window longer than any contract's life is a typo, not a rule.
MAX_FEE_WINDOW_DAYS = 3660

Problem = Callable[[str, str], None]


@dataclass(frozen=True, order=True)
class EarnBackTarget:
    """Reaching `target_rate` on `measure_id` earns back `share` of the withheld amount."""

    measure_id: str
    target_rate: Decimal
    share: Decimal

    @property
    def rule(self) -> str:
        return f"{self.measure_id} >= {self.target_rate} earns {self.share} of the withhold"


@dataclass(frozen=True, order=True)
class IncentiveTarget:
    """Reaching `target_rate` on `measure_id` pays `amount`, or `percent` of the period's PMPM."""

    measure_id: str
    target_rate: Decimal
    amount: Decimal | None
    percent: Decimal | None

    @property
    def pays(self) -> str:
        return f"{self.amount}" if self.amount is not None else f"{self.percent}% of the period's PMPM"


@dataclass(frozen=True, order=True)
class DmeTerm:
    """How the contract pays one HCPCS code: inside the PMPM, or passed through up to `cap`."""

    hcpcs_code: str
    handling: str
    cap: Decimal | None


@dataclass(frozen=True)
class ContractTerms:
    attribution_day: int | None = None
    threshold_days: int | None = None
    partial_pmpm: Mapping[str, Decimal] | None = None
    short_later_month: str | None = None
    withhold_percent: Decimal = Decimal("0")
    assessment_fee_window_days: int | None = None
    earn_back: tuple[EarnBackTarget, ...] = ()
    incentives: tuple[IncentiveTarget, ...] = ()
    dme: tuple[DmeTerm, ...] = ()


def parse_terms(
    entry: Mapping[str, Any], proration: str, tiers: frozenset[str], problem: Problem
) -> ContractTerms:
    wanted = RULE_PARAMETERS.get(proration, ())
    for key in RULE_PARAMETERS.get("day_threshold", ()) + RULE_PARAMETERS["attributed_on_day"]:
        if key in entry and key not in wanted:
            owner = next(rule for rule, keys in RULE_PARAMETERS.items() if key in keys)
            problem(key, f"applies only to proration = {owner!r}")
    for key in wanted:
        if key not in entry:
            problem(key, f"is required by proration = {proration!r}")
    return ContractTerms(
        attribution_day=_day(entry, "attribution_day", problem) if "attribution_day" in wanted else None,
        threshold_days=_day(entry, "threshold_days", problem) if "threshold_days" in wanted else None,
        partial_pmpm=_partial_rates(entry, tiers, problem) if "partial_pmpm" in wanted else None,
        short_later_month=_short_later_month(entry, problem) if "short_later_month" in wanted else None,
        withhold_percent=_percent(entry, problem),
        assessment_fee_window_days=_fee_window(entry, problem),
        earn_back=_earn_back(entry, problem),
        incentives=_incentives(entry, problem),
        dme=_dme(entry, problem),
    )


def _day(entry: Mapping[str, Any], key: str, problem: Problem) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 31:
        problem(key, "must be a whole number of days from 1 to 31")
        return None
    return value


def _fee_window(entry: Mapping[str, Any], problem: Problem) -> int | None:
    value = entry.get("assessment_fee_window_days")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_FEE_WINDOW_DAYS:
        problem(
            "assessment_fee_window_days", f"must be a whole number of days from 1 to {MAX_FEE_WINDOW_DAYS}"
        )
        return None
    return value


def _partial_rates(entry: Mapping[str, Any], tiers: frozenset[str], problem: Problem) -> dict[str, Decimal]:
    raw = entry.get("partial_pmpm")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem("partial_pmpm", "must be a table of tier = rate")
        return {}
    rates: dict[str, Decimal] = {}
    for tier, text in raw.items():
        if tier not in tiers:
            problem(f"partial_pmpm.{tier}", f"unknown tier {tier!r} (tiers: {', '.join(sorted(tiers))})")
            continue
        try:
            rates[tier] = parse_amount(text)
        except ValueError as exc:
            problem(f"partial_pmpm.{tier}", str(exc))
    for tier in sorted(tiers - set(raw)):
        problem(f"partial_pmpm.{tier}", "has no partial rate: every tier must be priced")
    return rates


def _short_later_month(entry: Mapping[str, Any], problem: Problem) -> str | None:
    value = entry.get("short_later_month")
    if value is None:
        return None
    if value not in SHORT_LATER_MONTH:
        problem("short_later_month", f"must be one of {', '.join(SHORT_LATER_MONTH)}")
        return None
    return str(value)


def _fraction(text: object, upper: Decimal, places: int) -> Decimal:
    if not isinstance(text, str):
        raise ValueError(f'write it as a string such as "0.80", not {type(text).__name__}')
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite() or not 0 <= value <= upper:
        raise ValueError(f"{text} is not between 0 and {upper}")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{text} has more than {places} decimal places")
    return value


def _percent(entry: Mapping[str, Any], problem: Problem) -> Decimal:
    if "withhold_percent" not in entry:
        return Decimal("0")
    try:
        return _fraction(entry["withhold_percent"], Decimal(100), 2)
    except ValueError as exc:
        problem("withhold_percent", str(exc))
        return Decimal("0")


def _earn_back(entry: Mapping[str, Any], problem: Problem) -> tuple[EarnBackTarget, ...]:
    raw = entry.get("earn_back")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, dict) and v for v in raw.values()):
        problem("earn_back", "must be tables of measure id -> {target rate = share}")
        return ()
    targets: list[EarnBackTarget] = []
    largest = Decimal(0)
    for measure_id, table in raw.items():
        best = Decimal(0)
        for target, share in table.items():
            where = f"earn_back.{measure_id}.{target}"
            try:
                rule = EarnBackTarget(
                    measure_id, _fraction(target, Decimal(1), 6), _fraction(share, Decimal(1), 6)
                )
            except ValueError as exc:
                problem(where, str(exc))
                continue
            targets.append(rule)
            best = max(best, rule.share)
        largest += best
    if largest > 1:
        problem("earn_back", f"the largest shares of all measures add up to {largest}, more than 1")
    if targets and "withhold_percent" not in entry:
        problem("earn_back", "earns back a withhold: set withhold_percent")
    return tuple(sorted(targets))


def _incentives(entry: Mapping[str, Any], problem: Problem) -> tuple[IncentiveTarget, ...]:
    raw = entry.get("incentive")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, dict) and v for v in raw.values()):
        problem("incentive", "must be tables of measure id -> {target rate = { amount | percent }}")
        return ()
    targets: list[IncentiveTarget] = []
    for measure_id, table in raw.items():
        for target, pays in table.items():
            where = f"incentive.{measure_id}.{target}"
            if not isinstance(pays, dict) or len(pays) != 1 or set(pays) - {"amount", "percent"}:
                problem(where, 'must be { amount = "500.00" } or { percent = "1.5" }')
                continue
            try:
                rate = _fraction(target, Decimal(1), 6)
                amount = parse_amount(pays["amount"]) if "amount" in pays else None
                percent = _fraction(pays["percent"], Decimal(100), 2) if "percent" in pays else None
            except ValueError as exc:
                problem(where, str(exc))
                continue
            if any(t.measure_id == measure_id and t.target_rate == rate for t in targets):
                problem(where, "repeats a target rate of this measure")
                continue
            targets.append(IncentiveTarget(measure_id, rate, amount, percent))
    return tuple(sorted(targets))


def _dme(entry: Mapping[str, Any], problem: Problem) -> tuple[DmeTerm, ...]:
    raw = entry.get("dme")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problem("dme", 'must be a table of HCPCS code -> { handling = "allowance" | "pass_through" }')
        return ()
    terms: list[DmeTerm] = []
    for code, term in raw.items():
        where = f"dme.{code}"
        if not re.match(HCPCS_PATTERN, code):
            problem(where, "is not a HCPCS level II code (a letter and four digits, e.g. E0250)")
            continue
        if not isinstance(term, dict) or term.get("handling") not in DME_HANDLING:
            problem(where, f"handling must be one of {', '.join(DME_HANDLING)}")
            continue
        if set(term) - {"handling", "cap"}:
            problem(where, "takes only handling and cap")
            continue
        passes = term["handling"] == "pass_through"
        if passes != ("cap" in term):
            problem(where, "a pass_through takes a cap; an allowance takes none")
            continue
        try:
            cap = parse_amount(term["cap"]) if passes else None
        except ValueError as exc:
            problem(f"{where}.cap", str(exc))
            continue
        terms.append(DmeTerm(code, term["handling"], cap))
    return tuple(sorted(terms))


def terms_fingerprint(terms: ContractTerms) -> dict[str, Any]:
    """The terms that are set, for the version fingerprint: a contract without terms keeps the
    fingerprint it had before terms existed, so versions already loaded stay valid."""
    content: dict[str, Any] = {}
    if terms.attribution_day is not None:
        content["attribution_day"] = terms.attribution_day
    if terms.threshold_days is not None:
        content["threshold_days"] = terms.threshold_days
    if terms.partial_pmpm is not None:
        content["partial_pmpm"] = {t: str(r) for t, r in sorted(terms.partial_pmpm.items())}
    if terms.short_later_month is not None:
        content["short_later_month"] = terms.short_later_month
    if terms.withhold_percent:
        content["withhold_percent"] = str(terms.withhold_percent)
    if terms.assessment_fee_window_days is not None:
        content["assessment_fee_window_days"] = terms.assessment_fee_window_days
    if terms.earn_back:
        content["earn_back"] = [[t.measure_id, str(t.target_rate), str(t.share)] for t in terms.earn_back]
    if terms.incentives:
        content["incentive"] = [
            [t.measure_id, str(t.target_rate), str(t.amount), str(t.percent)] for t in terms.incentives
        ]
    if terms.dme:
        content["dme"] = [[t.hcpcs_code, t.handling, str(t.cap)] for t in terms.dme]
    return content
