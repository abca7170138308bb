"""Case-finding rules (`case_finding.toml`), as plain data the scoring SQL takes as parameters.

Claims make candidates, never enrolments: the rule set only decides whom the quarterback should
reach out to, and every candidate carries the claims that made it one and how old they are.
"""

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

_RANGE = re.compile(r"^([A-Z])(\d{2})-([A-Z])(\d{2})$")
FIELD_SIGNALS = ("unplanned_admission", "ed_visit", "dme_oxygen", "dme_hospital_bed", "hospice", "death")


@dataclass(frozen=True)
class Rule:
    """One scoring rule: points = weight x min(events, cap) once events >= min_events, where events
    are the distinct claims in the window that carry any of `signals`."""

    name: str
    kind: str  # condition, marker or utilization
    signals: tuple[str, ...]
    weight: int
    cap: int
    min_events: int


@dataclass(frozen=True)
class CaseFindingRules:
    version: str
    window_months: int
    threshold: int
    require_condition: bool
    evidence_per_rule: int
    suppress_signals: tuple[str, ...]
    suppress_recent_statuses: tuple[str, ...]
    suppress_recent_days: int
    diagnosis_prefixes: dict[str, tuple[str, ...]]  # prefix -> the signals it carries
    field_signals: dict[str, dict[str, Any]]
    rules: tuple[Rule, ...]

    def rule_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "rule": r.name,
                "kind": r.kind,
                "signals": list(r.signals),
                "weight": r.weight,
                "cap": r.cap,
                "min_events": r.min_events,
            }
            for r in self.rules
        ]

    def prefix_rows(self) -> list[dict[str, str]]:
        return [
            {"prefix": prefix, "signal": signal}
            for prefix, signals in self.diagnosis_prefixes.items()
            for signal in signals
        ]


def expand_codes(codes: list[str]) -> list[str]:
    """ICD-10 prefixes, with ranges such as "C00-C96" spelled out (C00, C01, ..., C96)."""
    prefixes: list[str] = []
    for code in codes:
        match = _RANGE.match(code)
        if match is None:
            prefixes.append(code.replace(".", "").upper())
            continue
        first, low, last, high = match.groups()
        if first != last or int(low) > int(high):
            raise ValueError(f"code range {code} must stay within one letter and go upwards")
        prefixes += [f"{first}{n:02d}" for n in range(int(low), int(high) + 1)]
    return prefixes


def parse_rules(doc: dict[str, Any]) -> CaseFindingRules:
    prefixes: dict[str, list[str]] = {}
    rules: list[Rule] = []
    for kind, section in (("condition", "conditions"), ("marker", "markers")):
        for name, spec in doc.get(section, {}).items():
            signal = f"{kind}:{name}"
            for prefix in expand_codes(spec["codes"]):
                prefixes.setdefault(prefix, []).append(signal)
            rules.append(Rule(name, kind, (signal,), int(spec["weight"]), 1, 1))
    for name, spec in doc.get("utilization", {}).items():
        unknown = set(spec["signals"]) - set(FIELD_SIGNALS)
        if unknown:
            raise ValueError(f"utilization rule {name} names unknown signals {sorted(unknown)}")
        rules.append(
            Rule(
                name,
                "utilization",
                tuple(spec["signals"]),
                int(spec["weight"]),
                int(spec.get("cap", 1)),
                int(spec.get("min_events", 1)),
            )
        )
    unknown_fields = set(doc.get("signals", {})) - set(FIELD_SIGNALS)
    if unknown_fields:
        raise ValueError(f"unknown claim-line signals {sorted(unknown_fields)}")
    suppress = doc["suppress"]
    return CaseFindingRules(
        version=str(doc["version"]),
        window_months=int(doc["window_months"]),
        threshold=int(doc["threshold"]),
        require_condition=bool(doc.get("require_condition", True)),
        evidence_per_rule=int(doc.get("evidence_per_rule", 5)),
        suppress_signals=tuple(suppress["signals"]),
        suppress_recent_statuses=tuple(suppress["recent_statuses"]),
        suppress_recent_days=int(suppress["recent_days"]),
        diagnosis_prefixes={p: tuple(s) for p, s in prefixes.items()},
        field_signals={name: dict(doc["signals"].get(name, {})) for name in FIELD_SIGNALS},
        rules=tuple(rules),
    )


def load_case_finding_rules() -> CaseFindingRules:
    text = (resources.files(__package__) / "case_finding.toml").read_text(encoding="utf-8")
    return parse_rules(tomllib.loads(text))


def leading_condition(rules: CaseFindingRules, groups: list[str]) -> str | None:
    """The condition group a referral is filed under: the heaviest one found (first in the rule
    file on a tie)."""
    weights = {r.name: (r.weight, -i) for i, r in enumerate(rules.rules) if r.kind == "condition"}
    found = [g for g in groups if g in weights]
    return max(found, key=lambda g: weights[g]) if found else None
