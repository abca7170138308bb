"""A small rule language for criteria kept as data (TOML), evaluated with three-valued logic.

Clinical criteria and tier rules change with regulation and contracts; they live in versioned TOML
files, not in code. A rule is a table that is exactly one of:

- a comparison on a named assessment field: `{ field = "nyha_class", op = ">=", value = 3 }`
  (ops `<`, `<=`, `>`, `>=`, `==`, `!=`, `in` with a list value, and `present` without a value);
- `{ all = [rule, ...] }` or `{ any = [rule, ...] }`.

Missing data never silently counts as "no": a comparison on a field without a value is UNKNOWN,
`all` is UNMET if any part is unmet, else UNKNOWN if any part is unknown; `any` is MET if any part
is met, else UNKNOWN if any part is unknown (Kleene logic). Evaluation returns the status and an
explanation tree carrying the values used, so every decision can be shown and audited.
"""

import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Scalar = bool | int | float | str


class Status(StrEnum):
    MET = "met"
    UNMET = "unmet"
    UNKNOWN = "unknown"


class RuleError(ValueError):
    """A rule file that cannot be interpreted: raised at load time, never while deciding."""


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda actual, allowed: actual in allowed,
}
OPS = frozenset({*_COMPARE, "present"})


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Scalar | tuple[Scalar, ...] | None

    def evaluate(self, facts: Mapping[str, Any]) -> "Outcome":
        actual = facts.get(self.field)
        if self.op == "present":
            status = Status.MET if actual is not None else Status.UNMET
        elif actual is None:
            status = Status.UNKNOWN
        else:
            status = Status.MET if _COMPARE[self.op](actual, self.value) else Status.UNMET
        shown = list(self.value) if isinstance(self.value, tuple) else self.value
        node: dict[str, Any] = {"field": self.field, "op": self.op, "actual": actual, "status": status.value}
        if self.op != "present":
            node["value"] = shown
        return Outcome(status, node, {self.field: actual})

    def fields(self) -> set[str]:
        return {self.field}


@dataclass(frozen=True)
class Combination:
    kind: str  # "all" or "any"
    parts: tuple["Rule", ...]

    def evaluate(self, facts: Mapping[str, Any]) -> "Outcome":
        outcomes = [p.evaluate(facts) for p in self.parts]
        statuses = {o.status for o in outcomes}
        decisive, otherwise = (Status.UNMET, Status.MET) if self.kind == "all" else (Status.MET, Status.UNMET)
        if decisive in statuses:
            status = decisive
        elif Status.UNKNOWN in statuses:
            status = Status.UNKNOWN
        else:
            status = otherwise
        values: dict[str, Any] = {}
        for o in outcomes:
            values.update(o.values)
        return Outcome(status, {self.kind: [o.explanation for o in outcomes], "status": status.value}, values)

    def fields(self) -> set[str]:
        return set().union(*(p.fields() for p in self.parts))


Rule = Comparison | Combination


@dataclass(frozen=True)
class Outcome:
    status: Status
    explanation: dict[str, Any]
    values: dict[str, Any]

    @property
    def missing(self) -> list[str]:
        return sorted(f for f, v in self.values.items() if v is None)


def parse_rule(raw: Mapping[str, Any], where: str) -> Rule:
    """Build a rule from its TOML table; `where` names the place in the file for error messages.

    Keys other than the rule's own (e.g. `description`) are allowed beside it, so a criterion
    table can be its own rule."""
    kinds = [k for k in ("field", "all", "any") if k in raw]
    if len(kinds) != 1:
        raise RuleError(f"{where}: a rule needs exactly one of 'field', 'all' or 'any'")
    if kinds[0] in ("all", "any"):
        parts = raw[kinds[0]]
        if not isinstance(parts, list) or not parts:
            raise RuleError(f"{where}: '{kinds[0]}' must be a non-empty list of rules")
        return Combination(
            kinds[0], tuple(parse_rule(p, f"{where}.{kinds[0]}[{i}]") for i, p in enumerate(parts))
        )
    field, op = raw["field"], raw.get("op")
    if not isinstance(field, str) or op not in OPS:
        raise RuleError(f"{where}: needs a field name and an op among {sorted(OPS)}")
    if op == "present":
        if "value" in raw:
            raise RuleError(f"{where}: 'present' takes no value")
        return Comparison(field, op, None)
    if "value" not in raw:
        raise RuleError(f"{where}: op '{op}' needs a value")
    value = raw["value"]
    if op == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}: 'in' needs a non-empty list value")
        return Comparison(field, op, tuple(value))
    if not isinstance(value, bool | int | float | str):
        raise RuleError(f"{where}: value must be a number, a boolean or a string")
    return Comparison(field, op, value)


def check_fields(rule: Rule, known: Collection[str], where: str) -> None:
    """Refuse a rule that names a field the assessment does not carry (a typo would otherwise
    make the criterion permanently 'unknown')."""
    unknown = sorted(rule.fields() - set(known))
    if unknown:
        raise RuleError(f"{where}: unknown assessment field(s) {', '.join(unknown)}")
