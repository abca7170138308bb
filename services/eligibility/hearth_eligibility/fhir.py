"""The FHIR R4 edge shared by the eligibility service's FHIR endpoints: parsing a resource with
fhir.resources, problems as an `OperationOutcome`, and who a Patient or Organization reference
names. Plain Python, no I/O.

A FHIR client expects an OperationOutcome, not Hearth's error body, so FHIR problems are their
own exception. Every problem is collected before answering, so a sender fixes them in one round.
Diagnostics name the element and the rule, never the submitted value (it may be PHI).
"""

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any, TypeVar

import orjson
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from hearth_platform.fhir import FhirProblem, Issue

R = TypeVar("R", bound=Resource)

# The member and organization ids Hearth keys its records by (hearth_schemas' MemberId).
HEARTH_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class FhirProfile:
    """`fhir.toml`: the identifier systems and codes this service reads and writes."""

    version: str
    member_identifier_system: str
    member_identifier_type_system: str
    member_identifier_type_code: str
    organization_identifier_system: str
    coverage_class_system: str
    line_of_business_system: str
    supported_purposes: tuple[str, ...]


def load_fhir_profile() -> FhirProfile:
    text = (resources.files(__package__) / "fhir.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    return FhirProfile(**{**doc, "supported_purposes": tuple(doc["supported_purposes"])})


def _expression(resource_type: str, loc: Sequence[int | str]) -> str:
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_resource(model: type[R], body: bytes) -> R:
    """The body as a `model` resource (its resourceType must match), or every problem found."""
    name = model.__name__
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FhirProblem([Issue(name, "the body is not JSON", "structure")], status=400) from None
    if not isinstance(raw, dict) or raw.get("resourceType") != name:
        raise FhirProblem([Issue(name, f"the body must be a {name} resource", "structure")])
    try:
        return model.model_validate(raw)
    except ValidationError as invalid:
        raise FhirProblem(
            [
                Issue(
                    _expression(name, e["loc"]),
                    "is required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, "),
                    "required" if e["type"] == "missing" else "invalid",
                )
                for e in invalid.errors(include_input=False, include_url=False)
            ]
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError):
        # fhir.resources raises these, not ValidationError, for some malformed input (such as a
        # contained resource of an unknown type): still the sender's problem, never a 5xx.
        raise FhirProblem(
            [Issue(name, "does not conform to FHIR R4 (an element of an unknown type)")]
        ) from None


def full_date(value: Any, expression: str, issues: list[Issue]) -> date | None:
    """A FHIR date or dateTime as a day; partial dates ("2026-10") cannot answer "covered on"."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is not None:
        issues.append(Issue(expression, "must be a full date (YYYY-MM-DD)"))
    return None


def _contained(resource: Resource, reference: str) -> Resource | None:
    wanted = reference.removeprefix("#")
    return next((c for c in resource.contained or [] if c.id == wanted), None)


def _is_member_identifier(identifier: Any, profile: FhirProfile) -> bool:
    if not identifier.value:
        return False
    if identifier.system == profile.member_identifier_system:
        return True
    codings: Iterable[Any] = (identifier.type.coding or []) if identifier.type else []
    return any(
        c.system == profile.member_identifier_type_system and c.code == profile.member_identifier_type_code
        for c in codings
    )


def _hearth_id(value: str | None, expression: str, issues: list[Issue]) -> str | None:
    if value is not None and not HEARTH_ID.match(value):
        issues.append(Issue(expression, "names an id that is not 1-64 letters, digits or . _ : -"))
        return None
    return value


def member_of(
    owner: Resource, ref: Any, expression: str, profile: FhirProfile, issues: list[Issue]
) -> str | None:
    """The member id a Patient reference names: `Patient/{member id}`, a reference to a contained
    Patient carrying the member identifier, or a logical reference by that identifier."""
    return _hearth_id(_member_of(owner, ref, expression, profile, issues), expression, issues)


def _member_of(
    owner: Resource, ref: Any, expression: str, profile: FhirProfile, issues: list[Issue]
) -> str | None:
    if ref is None:
        issues.append(Issue(expression, "is required", "required"))
        return None
    if ref.identifier is not None and _is_member_identifier(ref.identifier, profile):
        return str(ref.identifier.value)
    reference = ref.reference or ""
    if reference.startswith("Patient/") and len(reference) > len("Patient/"):
        return reference.removeprefix("Patient/")
    if reference.startswith("#"):
        patient = _contained(owner, reference)
        if patient is None or patient.get_resource_type() != "Patient":
            issues.append(Issue(expression, "must reference a contained Patient", "not-found"))
            return None
        found = [i.value for i in patient.identifier or [] if _is_member_identifier(i, profile)]
        if found:
            return str(found[0])
        issues.append(
            Issue(
                expression,
                f"the contained Patient needs an identifier with system {profile.member_identifier_system} "
                f"or type {profile.member_identifier_type_code}",
                "required",
            )
        )
        return None
    issues.append(
        Issue(
            expression, "must be Patient/{member id}, a contained Patient, or a member identifier", "invalid"
        )
    )
    return None


def organization_of(ref: Any, expression: str, profile: FhirProfile, issues: list[Issue]) -> str | None:
    """The provider organization id a reference names: `Organization/{id}` or its identifier."""
    return _hearth_id(_organization_of(ref, expression, profile, issues), expression, issues)


def _organization_of(ref: Any, expression: str, profile: FhirProfile, issues: list[Issue]) -> str | None:
    if ref is None:
        issues.append(Issue(expression, "is required", "required"))
        return None
    if ref.identifier is not None and ref.identifier.system == profile.organization_identifier_system:
        if ref.identifier.value:
            return str(ref.identifier.value)
    reference = ref.reference or ""
    if reference.startswith("Organization/") and len(reference) > len("Organization/"):
        return reference.removeprefix("Organization/")
    issues.append(
        Issue(
            expression,
            "must be Organization/{id} or an identifier with system "
            + profile.organization_identifier_system,
        )
    )
    return None
