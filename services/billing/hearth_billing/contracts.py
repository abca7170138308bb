"""Contracts: what the plan pays whom, as versioned data rather than constants in code.

A contract file (TOML, read with the standard library) declares the plan's tier catalogue and one
or more `[[contract]]` versions. A version names the provider organization it covers (`"*"` = any
organization), the line of business (`"*"` = any), the period it is in force, the PMPM rate of
every tier, the initial-assessment fee and the proration rule. A published version is never
changed: a new rate is a new version with its own `effective_from`; only `effective_to` may be set
later, to end a version when its successor starts.

When several versions could apply, the most specific wins (an organization's own contract before
the `"*"` one, a line of business before `"*"`); two versions of the same specificity in force on
the same day are refused at load, so the choice is never arbitrary.
"""

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hearth_platform.errors import Invalid

from .contract_terms import TERM_FIELDS, ContractTerms, parse_terms, terms_fingerprint
from .money import parse_amount

ANY = "*"
# Every rule a contract may name (what each pays is written in `proration.py`):
#   full_month         enrolled on any day of the month pays the whole month
#   attributed_on_day  pay only the organization the member is attributed to on day N
#   day_threshold      full rate from a number of enrolled days in the month, a partial rate below
#   daily              prorate by enrolled days
PRORATION_RULES = ("full_month", "attributed_on_day", "day_threshold", "daily")

_REQUIRED = (
    "contract_id",
    "version",
    "effective_from",
    "provider_org_id",
    "line_of_business",
    "proration",
    "assessment_fee",
    "pmpm",
)
_OPTIONAL = ("effective_to", "description", *TERM_FIELDS)


class ContractError(Invalid):
    """Contract data that cannot be used; `detail` names every problem, not only the first."""


class NoContract(Invalid):
    def __init__(self, provider_org_id: str, line_of_business: str | None, on: date) -> None:
        super().__init__(
            f"no contract is in force for provider organization {provider_org_id} "
            f"(line of business {line_of_business or ANY}) on {on.isoformat()}"
        )


class UnknownTier(Invalid):
    def __init__(self, tier: str, tiers: Iterable[str]) -> None:
        super().__init__(f"tier {tier!r} is not priced by any contract (tiers: {', '.join(sorted(tiers))})")


@dataclass(frozen=True)
class Contract:
    contract_id: str
    version: int
    effective_from: date
    effective_to: date | None
    provider_org_id: str
    line_of_business: str
    proration: str
    assessment_fee: Decimal
    pmpm: Mapping[str, Decimal] = field(default_factory=dict)
    terms: ContractTerms = ContractTerms()

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def covers(self, provider_org_id: str, line_of_business: str | None) -> bool:
        return self.provider_org_id in (provider_org_id, ANY) and self.line_of_business in (
            line_of_business or ANY,
            ANY,
        )

    @property
    def scope(self) -> tuple[str, str]:
        return (self.provider_org_id, self.line_of_business)

    @property
    def generality(self) -> tuple[bool, bool]:
        """Sorts the most specific contract first (an organization's own before `"*"`)."""
        return (self.provider_org_id == ANY, self.line_of_business == ANY)

    def overlaps(self, other: "Contract") -> bool:
        far = date.max
        return self.effective_from <= (other.effective_to or far) and other.effective_from <= (
            self.effective_to or far
        )

    @property
    def fingerprint(self) -> str:
        """Identifies the immutable content of a version (everything but `effective_to`)."""
        content: dict[str, Any] = {
            "contract_id": self.contract_id,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "provider_org_id": self.provider_org_id,
            "line_of_business": self.line_of_business,
            "proration": self.proration,
            "assessment_fee": str(self.assessment_fee),
            "pmpm": {tier: str(rate) for tier, rate in sorted(self.pmpm.items())},
        }
        if terms := terms_fingerprint(self.terms):
            content["terms"] = terms
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ContractBook:
    """All contract versions the service pays by."""

    contracts: tuple[Contract, ...]

    @property
    def tiers(self) -> frozenset[str]:
        return frozenset(tier for c in self.contracts for tier in c.pmpm)

    @property
    def has_fee_window(self) -> bool:
        """Some version pays the assessment fee at most once per window (so the members' paid fees
        are needed to accrue one)."""
        return any(c.terms.assessment_fee_window_days is not None for c in self.contracts)

    def in_force(self, provider_org_id: str, line_of_business: str | None, on: date) -> Contract:
        candidates = [
            c for c in self.contracts if c.in_force_on(on) and c.covers(provider_org_id, line_of_business)
        ]
        if not candidates:
            raise NoContract(provider_org_id, line_of_business, on)
        return min(candidates, key=lambda c: c.generality)

    def check_tier(self, tier: str) -> None:
        if tier not in self.tiers:
            raise UnknownTier(tier, self.tiers)


def read_contracts(directory: Path) -> ContractBook:
    """Every `*.toml` file of `directory`, validated together."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise ContractError(f"no contract files (*.toml) in {directory}")
    return parse_contracts({f.name: f.read_text(encoding="utf-8") for f in files})


def parse_contracts(files: Mapping[str, str]) -> ContractBook:
    """Parse and validate contract files given as {file name: TOML text}."""
    problems: list[dict[str, Any]] = []
    contracts: list[Contract] = []
    for name, text in files.items():
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append({"field": name, "reason": f"not valid TOML: {exc}"})
            continue
        contracts.extend(_parse_file(name, document, problems))
    problems.extend(_conflicts(contracts))
    if problems:
        summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
        raise ContractError(f"contract data is invalid: {summary}", detail=problems)
    return ContractBook(tuple(sorted(contracts, key=lambda c: (c.contract_id, c.version))))


def _parse_file(name: str, document: dict[str, Any], problems: list[dict[str, Any]]) -> list[Contract]:
    tiers = document.get("tiers")
    if not isinstance(tiers, list) or not tiers or not all(isinstance(t, str) and t for t in tiers):
        problems.append(
            {"field": f"{name}: tiers", "reason": "must list the plan's tiers, e.g. ['moderate']"}
        )
        return []
    unknown_keys = set(document) - {"tiers", "contract"}
    if unknown_keys:
        problems.append({"field": name, "reason": f"unknown keys: {', '.join(sorted(unknown_keys))}"})
    entries = document.get("contract")
    if not isinstance(entries, list) or not entries:
        problems.append({"field": f"{name}: contract", "reason": "declares no [[contract]]"})
        return []
    parsed = []
    for index, entry in enumerate(entries):
        where = f"{name}: contract[{index}]"
        before = len(problems)
        contract = _parse_contract(where, entry, frozenset(tiers), problems)
        if contract is not None and len(problems) == before:
            parsed.append(contract)
    return parsed


def _parse_contract(
    where: str, entry: dict[str, Any], tiers: frozenset[str], problems: list[dict[str, Any]]
) -> Contract | None:
    def problem(key: str, reason: str) -> None:
        problems.append({"field": f"{where}.{key}", "reason": reason})

    missing = [k for k in _REQUIRED if k not in entry]
    for key in missing:
        problem(key, "is required")
    for key in sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL)):
        problem(key, "is not a contract field")
    if missing:
        return None
    for key in ("contract_id", "provider_org_id", "line_of_business"):
        if not isinstance(entry[key], str) or not entry[key]:
            problem(key, "must be a non-empty string")
    version = entry["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problem("version", "must be a whole number from 1")
    effective_from, effective_to = entry["effective_from"], entry.get("effective_to")
    if not _is_date(effective_from):
        problem("effective_from", "must be a date such as 2026-01-01 (unquoted)")
    if effective_to is not None and not _is_date(effective_to):
        problem("effective_to", "must be a date such as 2026-12-31 (unquoted)")
    elif _is_date(effective_from) and effective_to is not None and effective_to < effective_from:
        problem("effective_to", "is before effective_from")
    proration = entry["proration"]
    if proration not in PRORATION_RULES:
        problem("proration", f"{proration!r} is not a proration rule ({', '.join(PRORATION_RULES)})")
    fee = _amount(entry["assessment_fee"], lambda reason: problem("assessment_fee", reason))
    rates: dict[str, Decimal] = {}
    pmpm = entry["pmpm"]
    if not isinstance(pmpm, dict):
        problem("pmpm", "must be a table of tier = rate")
        pmpm = {}
    for tier, raw in pmpm.items():
        if tier not in tiers:
            problem(f"pmpm.{tier}", f"unknown tier {tier!r} (tiers: {', '.join(sorted(tiers))})")
            continue
        rate = _amount(raw, lambda reason, t=tier: problem(f"pmpm.{t}", reason))
        if rate is not None:
            rates[tier] = rate
    for tier in sorted(tiers - set(pmpm)):
        problem(f"pmpm.{tier}", "has no rate: every tier of the catalogue must be priced")
    terms = parse_terms(entry, str(proration), tiers, problem)
    if fee is None:
        return None
    return Contract(
        contract_id=str(entry["contract_id"]),
        version=version,
        effective_from=effective_from,
        effective_to=effective_to,
        provider_org_id=str(entry["provider_org_id"]),
        line_of_business=str(entry["line_of_business"]),
        proration=str(proration),
        assessment_fee=fee,
        pmpm=rates,
        terms=terms,
    )


def _conflicts(contracts: list[Contract]) -> list[dict[str, Any]]:
    """Duplicate versions, versions of one contract with different scopes, and overlapping
    contracts of the same scope (which would make the choice of rate arbitrary)."""
    problems: list[dict[str, Any]] = []
    seen: dict[tuple[str, int], Contract] = {}
    scopes: dict[str, tuple[str, str]] = {}
    for c in contracts:
        label = f"{c.contract_id} v{c.version}"
        if (c.contract_id, c.version) in seen:
            problems.append({"field": label, "reason": "is declared twice"})
            continue
        seen[(c.contract_id, c.version)] = c
        if scopes.setdefault(c.contract_id, c.scope) != c.scope:
            problems.append(
                {"field": label, "reason": "covers another organization or line of business than v1"}
            )
    ordered = sorted(seen.values(), key=lambda c: (c.contract_id, c.version))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a.scope == b.scope and a.overlaps(b):
                problems.append(
                    {
                        "field": f"{b.contract_id} v{b.version}",
                        "reason": f"is in force on the same days as {a.contract_id} v{a.version} "
                        f"for the same organization and line of business; end one with effective_to",
                    }
                )
    return problems


def _amount(raw: object, report: Any) -> Decimal | None:
    try:
        return parse_amount(raw)
    except ValueError as exc:
        report(str(exc))
        return None


def _is_date(value: object) -> bool:
    # tomllib reads an unquoted 2026-01-01 as a date; a datetime is a date subclass, refuse it.
    return isinstance(value, date) and type(value) is date
