"""Clinical eligibility criteria, read from a versioned TOML rule set and applied to assessments.

A rule set (`criteria/<name>.toml`) holds pathways, general criteria and disease-specific criteria.
The first pathway whose `applies_when` rule is met is followed (the last pathway has none: it is
the default); a member is eligible when every general criterion of the pathway is met and, where
the pathway requires it, the disease-specific criterion of the member's primary condition is met.
Anything unknown (missing data) and nothing unmet gives `insufficient_data`, which is not eligible:
the explanation lists the missing fields so the provider can complete the assessment.

Evaluating is pure; `load_clinical_criteria` reads the packaged file once at start-up.
"""

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from hearth_schemas import AssessmentCompleted

from .rules import Rule, RuleError, Status, check_fields, parse_rule

ASSESSMENT_FIELDS = frozenset(AssessmentCompleted.model_fields)
DEFAULT_CRITERIA = "medi_cal_sb1004"
# The id reported when the pathway needs a disease-specific criterion and none could be applied.
DISEASE_SPECIFIC = "disease_specific"


class ClinicalOutcome(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class Criterion:
    id: str
    description: str
    rule: Rule


@dataclass(frozen=True)
class Pathway:
    id: str
    description: str
    applies_when: Rule | None
    general: tuple[Criterion, ...]
    requires_disease_specific: bool
    # Whether electing hospice ends an enrolment on this pathway (adults leave the benefit;
    # children may have hospice and palliative care concurrently).
    hospice_election_disenrols: bool


@dataclass(frozen=True)
class CriterionResult:
    """One criterion's verdict with the values it used: the explanation stored and served."""

    id: str
    kind: str  # "general" or "disease_specific"
    status: Status
    description: str
    values: dict[str, Any]
    explanation: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status.value,
            "description": self.description,
            "values": self.values,
            "missing": sorted(f for f, v in self.values.items() if v is None),
            "rule": self.explanation,
        }


@dataclass(frozen=True)
class ClinicalDecision:
    criteria_name: str
    criteria_version: str
    pathway: Pathway
    results: tuple[CriterionResult, ...]

    @property
    def outcome(self) -> ClinicalOutcome:
        statuses = {r.status for r in self.results}
        if Status.UNMET in statuses:
            return ClinicalOutcome.INELIGIBLE
        if Status.UNKNOWN in statuses:
            return ClinicalOutcome.INSUFFICIENT_DATA
        return ClinicalOutcome.ELIGIBLE

    @property
    def eligible(self) -> bool:
        return self.outcome is ClinicalOutcome.ELIGIBLE

    @property
    def reasons(self) -> list[str]:
        """`pathway:<id>` then `<criterion id>:<met|unmet|unknown>`, in evaluation order."""
        return [f"pathway:{self.pathway.id}", *(f"{r.id}:{r.status.value}" for r in self.results)]

    def explanation(self) -> dict[str, Any]:
        return {
            "criteria": self.criteria_name,
            "version": self.criteria_version,
            "pathway": self.pathway.id,
            "outcome": self.outcome.value,
            "criteria_results": [r.as_dict() for r in self.results],
        }


@dataclass(frozen=True)
class ClinicalCriteria:
    name: str
    version: str
    title: str
    pathways: tuple[Pathway, ...]
    disease: Mapping[str, Criterion]

    def pathway_for(self, facts: Mapping[str, Any]) -> Pathway:
        for pathway in self.pathways:
            if pathway.applies_when is None or pathway.applies_when.evaluate(facts).status is Status.MET:
                return pathway
        raise AssertionError("the last pathway is the default")  # guaranteed by the loader

    def evaluate(self, facts: Mapping[str, Any]) -> ClinicalDecision:
        pathway = self.pathway_for(facts)
        results = [_apply(c, "general", facts) for c in pathway.general]
        if pathway.requires_disease_specific:
            results.append(self._disease_specific(facts))
        return ClinicalDecision(self.name, self.version, pathway, tuple(results))

    def _disease_specific(self, facts: Mapping[str, Any]) -> CriterionResult:
        condition = facts.get("primary_condition")
        if condition is None:
            return CriterionResult(
                DISEASE_SPECIFIC,
                "disease_specific",
                Status.UNKNOWN,
                "no primary condition recorded, so no disease-specific criterion can be applied",
                {"primary_condition": None},
            )
        criterion = self.disease.get(condition)
        if criterion is None:
            return CriterionResult(
                DISEASE_SPECIFIC,
                "disease_specific",
                Status.UNMET,
                f"rule set {self.name} {self.version} has no criteria for condition '{condition}'",
                {"primary_condition": condition},
            )
        return _apply(criterion, "disease_specific", facts)


def _apply(criterion: Criterion, kind: str, facts: Mapping[str, Any]) -> CriterionResult:
    outcome = criterion.rule.evaluate(facts)
    return CriterionResult(
        criterion.id, kind, outcome.status, criterion.description, outcome.values, outcome.explanation
    )


def _criterion(cid: str, raw: Any, where: str, known: Collection[str]) -> Criterion:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: must be a table")
    rule = parse_rule(raw, where)
    check_fields(rule, known, where)
    return Criterion(cid, str(raw.get("description", "")), rule)


def parse_clinical_criteria(
    doc: Mapping[str, Any], known_fields: Collection[str] = ASSESSMENT_FIELDS
) -> ClinicalCriteria:
    """Validate a parsed rule set completely, so that a bad file stops the service at start-up."""
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not version:
        raise RuleError("a rule set needs a string 'name' and 'version'")
    general = {
        cid: _criterion(cid, raw, f"general.{cid}", known_fields)
        for cid, raw in doc.get("general", {}).items()
    }
    disease = {
        cid: _criterion(cid, raw, f"disease.{cid}", known_fields)
        for cid, raw in doc.get("disease", {}).items()
    }
    pathways = []
    for i, raw in enumerate(doc.get("pathways", [])):
        where = f"pathways[{i}]"
        if not isinstance(raw.get("id"), str):
            raise RuleError(f"{where}: needs a string 'id'")
        applies = raw.get("applies_when")
        applies_when = parse_rule(applies, f"{where}.applies_when") if applies is not None else None
        if applies_when is not None:
            check_fields(applies_when, known_fields, f"{where}.applies_when")
        missing = [g for g in raw.get("general", []) if g not in general]
        if missing:
            raise RuleError(f"{where}: unknown general criteria {', '.join(missing)}")
        pathways.append(
            Pathway(
                id=str(raw["id"]),
                description=str(raw.get("description", "")),
                applies_when=applies_when,
                general=tuple(general[g] for g in raw.get("general", [])),
                requires_disease_specific=bool(raw.get("requires_disease_specific", True)),
                hospice_election_disenrols=bool(raw.get("hospice_election_disenrols", True)),
            )
        )
    if not pathways or pathways[-1].applies_when is not None:
        raise RuleError("the last pathway must be the default (no 'applies_when')")
    return ClinicalCriteria(name, version, str(doc.get("title", name)), tuple(pathways), disease)


def load_clinical_criteria(name: str = DEFAULT_CRITERIA) -> ClinicalCriteria:
    """Read `criteria/<name>.toml` shipped in this package."""
    text = (resources.files(__package__) / "criteria" / f"{name}.toml").read_text(encoding="utf-8")
    return parse_clinical_criteria(tomllib.loads(text))
