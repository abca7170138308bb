"""A FHIR R4 ServiceRequest read as a referral: plain Python, no I/O.

An EHR sends one palliative-care ServiceRequest, either alone with the Patient and Coverage it
names in `contained`, or as one entry of a transaction Bundle beside them. What Hearth takes
from it (the identifiers and codes are data, in `fhir.toml`):

- member id: the Patient's identifier with the plan's member-id system (or typed "MB"); without
  one, the `subscriberId` of a Coverage named in `insurance`;
- referral date: `authoredOn` (a full date);
- referrer: `requester`, as "npi:<NPI>" when the Practitioner carries an NPI, else the relative
  reference ("PractitionerRole/abc");
- palliative care: SNOMED CT 103735009 in `code` or in any `category`;
- goals-of-care conversation before referral: the extension `goals_of_care.extension_url` with a
  valueBoolean (absent = unknown);
- provider organization (optional): a `performer` Organization;
- retry key: the first `identifier` with a value (a resend of the same order is the same
  referral).

A FHIR client expects an OperationOutcome, so every problem is collected (parse errors,
missing elements, wrong resourceType, not palliative) and raised together as `FhirProblem`.
Diagnostics name the element and the rule, never the submitted value (it may be PHI).
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from hearth_platform.fhir import FhirProblem, Issue

from .fhir_profile import FhirProfile

# The ids Hearth keys its records by (hearth_schemas' MemberId), a referrer id, and the FHIR id
# grammar of the ServiceRequests and Tasks Hearth names.
MEMBER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
REFERRER_ID = re.compile(r"^[A-Za-z0-9._:/|-]{1,64}$")
FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
REQUIRED = ("status", "intent", "subject")
REQUESTER_TYPES = ("Practitioner", "PractitionerRole", "Organization")


@dataclass(frozen=True)
class FhirReferral:
    """What Hearth keeps of a ServiceRequest: the fields of a `ReceiveReferral`."""

    member_id: str
    referrer_id: str
    referral_date: date
    goals_of_care_discussed: bool | None
    provider_org_id: str | None
    request_key: str | None


def read_referral(body: bytes, profile: FhirProfile) -> FhirReferral:
    """The referral a ServiceRequest (or a transaction Bundle holding one) carries, or every
    problem found in it."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FhirProblem([Issue("ServiceRequest", "the body is not JSON", "structure")], 400) from None
    kind = raw.get("resourceType") if isinstance(raw, dict) else None
    if kind == "ServiceRequest":
        request = _parse(ServiceRequest, raw, "ServiceRequest", _missing(raw, "ServiceRequest"))
        return _referral(request, _Resolver(request, None), profile)
    if kind == "Bundle":
        bundle, request = _parse_bundle(raw)
        return _referral(request, _Resolver(request, bundle), profile)
    raise FhirProblem([Issue("resourceType", "must be ServiceRequest or a transaction Bundle", "structure")])


def _missing(raw: Any, prefix: str) -> list[Issue]:
    """Required ServiceRequest elements, checked on the JSON: fhir.resources reports some of them
    only once everything else is valid, and a sender should fix everything in one round."""
    if not isinstance(raw, dict):
        return []
    return [
        Issue(f"{prefix}.{name}", "is required", "required") for name in REQUIRED if raw.get(name) is None
    ]


def _parse(model: type[Any], raw: dict[str, Any], name: str, issues: list[Issue]) -> Any:
    try:
        parsed = model.model_validate(raw)
    except ValidationError as invalid:
        for e in invalid.errors(include_input=False, include_url=False):
            missing = "missing" in e["type"]
            issue = Issue(
                _expression(name, e["loc"]),
                "is required" if missing else e["msg"].removeprefix("Value error, "),
                "required" if missing else "invalid",
            )
            if issue.expression not in {i.expression for i in issues}:
                issues.append(issue)
        raise FhirProblem(issues) from None
    except (KeyError, TypeError, ValueError, AttributeError):
        # fhir.resources raises these, not ValidationError, for some malformed input (such as a
        # resource of an unknown type): still the sender's problem, never a 5xx.
        raise FhirProblem(
            [*issues, Issue(name, "does not conform to FHIR R4 (an element of an unknown type)")]
        ) from None
    if issues:
        raise FhirProblem(issues)
    return parsed


def _expression(name: str, loc: Any) -> str:
    path = name
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _parse_bundle(raw: dict[str, Any]) -> tuple[Bundle, ServiceRequest]:
    entries = raw.get("entry") if isinstance(raw.get("entry"), list) else []
    found = [
        i
        for i, e in enumerate(entries)
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "ServiceRequest"
    ]
    issues = [i for n in found for i in _missing(entries[n]["resource"], f"Bundle.entry[{n}].resource")]
    bundle: Bundle = _parse(Bundle, raw, "Bundle", issues)
    if bundle.type != "transaction":
        issues.append(Issue("Bundle.type", "must be transaction", "value"))
    if len(found) != 1:
        issues.append(Issue("Bundle.entry", "must hold exactly one ServiceRequest", "structure"))
    if issues:
        raise FhirProblem(issues)
    return bundle, bundle.entry[found[0]].resource


class _Resolver:
    """Finds what a reference names: a resource contained in the ServiceRequest ("#id") or an
    entry of the Bundle (by fullUrl, or "Type/id")."""

    def __init__(self, request: ServiceRequest, bundle: Bundle | None) -> None:
        self.contained = {c.id: c for c in request.contained or [] if c.id}
        self.entries: dict[str, Resource] = {}
        for entry in (bundle.entry or []) if bundle else []:
            if entry.resource is None or not hasattr(entry.resource, "get_resource_type"):
                continue
            if entry.fullUrl:
                self.entries[entry.fullUrl] = entry.resource
            if entry.resource.id:
                self.entries[f"{entry.resource.get_resource_type()}/{entry.resource.id}"] = entry.resource

    def resolve(self, reference: str | None) -> Resource | None:
        if not reference:
            return None
        if reference.startswith("#"):
            return self.contained.get(reference[1:])
        return self.entries.get(reference)


def _referral(request: ServiceRequest, resolver: _Resolver, profile: FhirProfile) -> FhirReferral:
    issues: list[Issue] = []
    if request.status not in profile.accepted_statuses:
        issues.append(
            Issue("ServiceRequest.status", f"must be {_either(profile.accepted_statuses)}", "value")
        )
    if request.intent not in profile.accepted_intents:
        issues.append(Issue("ServiceRequest.intent", f"must be {_either(profile.accepted_intents)}", "value"))
    if not _is_palliative(request, profile):
        wanted = ", ".join(f"{c.system}|{c.code} ({c.display})" for c in profile.palliative_codes)
        issues.append(
            Issue(
                "ServiceRequest.code",
                f"a palliative-care referral needs {wanted} in code or category",
                "value",
            )
        )
    referral_date = _referral_date(request.authoredOn, issues)
    member_id = _member_id(request, resolver, profile, issues)
    referrer_id = _referrer_id(request, resolver, profile, issues)
    goals_of_care = _goals_of_care(request, profile, issues)
    provider_org_id = _provider_org_id(request, profile, issues)
    if issues:
        raise FhirProblem(issues)
    assert member_id is not None and referrer_id is not None and referral_date is not None
    return FhirReferral(member_id, referrer_id, referral_date, goals_of_care, provider_org_id, _key(request))


def _either(values: tuple[str, ...]) -> str:
    return " or ".join(values)


def _is_palliative(request: ServiceRequest, profile: FhirProfile) -> bool:
    concepts = [request.code, *(request.category or [])]
    codings = [c for concept in concepts if concept is not None for c in concept.coding or []]
    wanted = {(c.system, c.code) for c in profile.palliative_codes}
    return any((c.system, c.code) in wanted for c in codings)


def _referral_date(value: Any, issues: list[Issue]) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None:
        issues.append(Issue("ServiceRequest.authoredOn", "is required (it is the referral date)", "required"))
    else:
        issues.append(Issue("ServiceRequest.authoredOn", "must be a full date (YYYY-MM-DD)"))
    return None


def _is_member_identifier(identifier: Any, profile: FhirProfile) -> bool:
    if identifier is None or not identifier.value:
        return False
    if identifier.system == profile.member_identifier_system:
        return True
    codings = (identifier.type.coding or []) if identifier.type else []
    return any(
        c.system == profile.member_identifier_type_system and c.code == profile.member_identifier_type_code
        for c in codings
    )


def _member_id(
    request: ServiceRequest, resolver: _Resolver, profile: FhirProfile, issues: list[Issue]
) -> str | None:
    subject = request.subject
    if subject is None:
        issues.append(Issue("ServiceRequest.subject", "is required", "required"))
        return None
    found: list[str] = []
    if subject.identifier is not None and _is_member_identifier(subject.identifier, profile):
        found.append(subject.identifier.value)
    patient = resolver.resolve(subject.reference)
    if subject.reference and (patient is None or patient.get_resource_type() != "Patient"):
        issues.append(
            Issue(
                "ServiceRequest.subject",
                "must reference a Patient contained in the ServiceRequest or in the Bundle",
                "not-found",
            )
        )
        return None
    if patient is not None:
        found += [i.value for i in patient.identifier or [] if _is_member_identifier(i, profile)]
    for n, insurance in enumerate(request.insurance or []):
        coverage = resolver.resolve(insurance.reference)
        if coverage is None or coverage.get_resource_type() != "Coverage":
            issues.append(
                Issue(
                    f"ServiceRequest.insurance[{n}]",
                    "must reference a Coverage contained in the ServiceRequest or in the Bundle",
                    "not-found",
                )
            )
        elif coverage.subscriberId:
            found.append(coverage.subscriberId)
    if not found:
        issues.append(
            Issue(
                "ServiceRequest.subject",
                f"the Patient needs an identifier with system {profile.member_identifier_system} (or type "
                f"{profile.member_identifier_type_code}), or insurance a Coverage with subscriberId",
                "required",
            )
        )
        return None
    if not MEMBER_ID.match(found[0]):
        issues.append(Issue("ServiceRequest.subject", "the member id is not 1-64 letters, digits or . _ : -"))
        return None
    return found[0]


def _referrer_id(
    request: ServiceRequest, resolver: _Resolver, profile: FhirProfile, issues: list[Issue]
) -> str | None:
    requester = request.requester
    if requester is None:
        issues.append(Issue("ServiceRequest.requester", "is required (it is the referrer)", "required"))
        return None
    resource = resolver.resolve(requester.reference)
    identifiers = [requester.identifier, *((getattr(resource, "identifier", None) or []) if resource else [])]
    npis = [i.value for i in identifiers if i is not None and i.system == profile.npi_system and i.value]
    reference = requester.reference or ""
    if npis:
        referrer = f"npi:{npis[0]}"
    elif reference.split("/")[0] in REQUESTER_TYPES and reference.count("/") == 1:
        referrer = reference
    else:
        issues.append(
            Issue(
                "ServiceRequest.requester",
                "must carry an NPI, or be Practitioner/{id}, PractitionerRole/{id} or Organization/{id}",
            )
        )
        return None
    if not REFERRER_ID.match(referrer):
        issues.append(Issue("ServiceRequest.requester", "the referrer id is not 1-64 letters or digits"))
        return None
    return referrer


def _goals_of_care(request: ServiceRequest, profile: FhirProfile, issues: list[Issue]) -> bool | None:
    for n, extension in enumerate(request.extension or []):
        if extension.url == profile.goals_of_care_extension_url:
            if extension.valueBoolean is None:
                issues.append(Issue(f"ServiceRequest.extension[{n}]", "must have a valueBoolean"))
            return extension.valueBoolean  # type: ignore[no-any-return]
    return None


def _provider_org_id(request: ServiceRequest, profile: FhirProfile, issues: list[Issue]) -> str | None:
    for n, performer in enumerate(request.performer or []):
        org: str | None = None
        if (
            performer.identifier is not None
            and performer.identifier.system == profile.organization_identifier_system
        ):
            org = performer.identifier.value
        elif (performer.reference or "").startswith("Organization/"):
            org = performer.reference.removeprefix("Organization/")
        if org is None:
            continue
        if not MEMBER_ID.match(org):
            issues.append(
                Issue(f"ServiceRequest.performer[{n}]", "the organization id is not 1-64 letters or digits")
            )
            return None
        return org
    return None


def _key(request: ServiceRequest) -> str | None:
    """The sender's order identifier as a retry key (hashed: it is the sender's, of any length)."""
    for identifier in request.identifier or []:
        if identifier.value:
            digest = hashlib.sha256(f"{identifier.system or ''}|{identifier.value}".encode()).hexdigest()
            return f"fhir:{digest[:40]}"
    return None
