"""Service tiers (how complex a member's care is, and so what the PMPM pays), kept as data.

`criteria/tiers.toml` lists tiers in order, each with a rule; the first tier whose rule is met is
assigned, otherwise the default. An unknown (missing) value never raises a member's tier.
"""

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .clinical import ASSESSMENT_FIELDS
from .rules import Rule, RuleError, Status, check_fields, parse_rule


@dataclass(frozen=True)
class TierRule:
    tier: str
    description: str
    rule: Rule


@dataclass(frozen=True)
class TierAssignment:
    tier: str
    rules_version: str
    explanation: dict[str, Any]


@dataclass(frozen=True)
class TierRules:
    name: str
    version: str
    default: str
    tiers: tuple[TierRule, ...]

    def assign(self, facts: Mapping[str, Any]) -> TierAssignment:
        tried = []
        for tier_rule in self.tiers:
            outcome = tier_rule.rule.evaluate(facts)
            tried.append({"tier": tier_rule.tier, "status": outcome.status.value, "values": outcome.values})
            if outcome.status is Status.MET:
                return TierAssignment(tier_rule.tier, self.version, {"version": self.version, "tried": tried})
        return TierAssignment(self.default, self.version, {"version": self.version, "tried": tried})


def parse_tier_rules(doc: Mapping[str, Any], known_fields: Collection[str] = ASSESSMENT_FIELDS) -> TierRules:
    name, version, default = doc.get("name"), doc.get("version"), doc.get("default")
    if not all(isinstance(v, str) and v for v in (name, version, default)):
        raise RuleError("tier rules need string 'name', 'version' and 'default'")
    tiers = []
    for i, raw in enumerate(doc.get("tiers", [])):
        where = f"tiers[{i}]"
        if not isinstance(raw.get("id"), str):
            raise RuleError(f"{where}: needs a string 'id'")
        rule = parse_rule(raw, where)
        check_fields(rule, known_fields, where)
        tiers.append(TierRule(raw["id"], str(raw.get("description", "")), rule))
    return TierRules(str(name), str(version), str(default), tuple(tiers))


def load_tier_rules(name: str = "tiers") -> TierRules:
    """Read `criteria/<name>.toml` shipped in this package."""
    text = (resources.files(__package__) / "criteria" / f"{name}.toml").read_text(encoding="utf-8")
    return parse_tier_rules(tomllib.loads(text))
