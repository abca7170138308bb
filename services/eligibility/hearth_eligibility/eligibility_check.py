"""FHIR R4 coverage checks: a `CoverageEligibilityRequest` becomes a question to the coverage
registry, and its answer a `CoverageEligibilityResponse`. Plain Python, no I/O.

The response says whether one coverage span is in force on the service date (or over the whole
service period), and describes that span as a contained `Coverage`: plan as its class, line of
business as its type, market as its network, the span's dates as the benefit period. A member
the registry does not know is answered "not in force", not refused: the question was valid.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

from .coverage import CoverageHistory, CoverageSpan
from .fhir import FhirProblem, FhirProfile, Issue, full_date, member_of

REQUEST = "CoverageEligibilityRequest"


@dataclass(frozen=True)
class EligibilityQuestion:
    member_id: str
    start: date
    end: date
    purposes: tuple[str, ...]
    # Echoed into the response as the request gave them.
    insurer: dict[str, Any]
    insurer_contained: dict[str, Any] | None
    request: dict[str, Any]
    coverage: dict[str, Any] | None

    def answer(self, history: CoverageHistory) -> CoverageSpan | None:
        """The one span in force over the whole service period, if any."""
        span = history.in_force(self.start)
        return span if span is not None and span.covers(self.end) else None

    def when(self) -> str:
        if self.start == self.end:
            return f"on {self.start.isoformat()}"
        return f"from {self.start.isoformat()} to {self.end.isoformat()}"


def _dump(element: Any) -> dict[str, Any]:
    return element.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[no-any-return]


def _request_reference(req: CoverageEligibilityRequest) -> dict[str, Any]:
    if req.identifier:
        return {"type": REQUEST, "identifier": _dump(req.identifier[0])}
    if req.id:
        return {"reference": f"{REQUEST}/{req.id}"}
    return {"type": REQUEST, "display": "the submitted request"}


def eligibility_question(
    req: CoverageEligibilityRequest, profile: FhirProfile, today: date
) -> EligibilityQuestion:
    """What the request asks, or every problem that keeps it from being answered."""
    issues: list[Issue] = []
    if req.status != "active":
        issues.append(Issue(f"{REQUEST}.status", "only active requests are answered", "business-rule"))
    purposes = tuple(req.purpose or ())
    if not purposes:
        issues.append(Issue(f"{REQUEST}.purpose", "is required", "required"))
    for i, purpose in enumerate(purposes):
        if purpose not in profile.supported_purposes:
            supported = ", ".join(profile.supported_purposes)
            issues.append(
                Issue(
                    f"{REQUEST}.purpose[{i}]", f"is not supported (supported: {supported})", "not-supported"
                )
            )
    member_id = member_of(req, req.patient, f"{REQUEST}.patient", profile, issues)
    start: date | None = today
    end: date | None = today
    if req.servicedDate is not None:
        start = end = full_date(req.servicedDate, f"{REQUEST}.servicedDate", issues)
    elif req.servicedPeriod is not None:
        period = req.servicedPeriod
        start = full_date(period.start, f"{REQUEST}.servicedPeriod.start", issues)
        end = full_date(period.end, f"{REQUEST}.servicedPeriod.end", issues) if period.end else start
        if period.start is None:
            issues.append(Issue(f"{REQUEST}.servicedPeriod.start", "is required", "required"))
        elif start and end and end < start:
            issues.append(Issue(f"{REQUEST}.servicedPeriod.end", "must be on or after the start"))
    if issues or member_id is None or start is None or end is None:
        raise FhirProblem(issues)
    insurer = _dump(req.insurer)
    contained = None
    if str(insurer.get("reference", "")).startswith("#"):
        wanted = insurer["reference"][1:]
        contained = next((_dump(c) for c in req.contained or [] if c.id == wanted), None)
    # A reference into the request's own contained resources would dangle in the response.
    named = next(
        (
            i.coverage
            for i in req.insurance or []
            if i.coverage and not (i.coverage.reference or "").startswith("#")
        ),
        None,
    )
    return EligibilityQuestion(
        member_id=member_id,
        start=start,
        end=end,
        purposes=purposes,
        insurer=insurer,
        insurer_contained=contained,
        request=_request_reference(req),
        coverage=_dump(named) if named is not None else None,
    )


def _period(span: CoverageSpan) -> dict[str, str]:
    period = {"start": span.start_date.isoformat()}
    if span.end_date is not None:
        period["end"] = span.end_date.isoformat()
    return period


def _coverage(
    span: CoverageSpan, patient: dict[str, Any], payor: dict[str, Any], profile: FhirProfile
) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": span.span_id,
        "status": "active",
        "type": {"coding": [{"system": profile.line_of_business_system, "code": span.line_of_business}]},
        "beneficiary": patient,
        "payor": [payor],
        "period": _period(span),
        "network": span.market,
        "class": [
            {
                "type": {"coding": [{"system": profile.coverage_class_system, "code": "plan"}]},
                "value": span.plan_id,
            }
        ],
    }


def eligibility_response(
    q: EligibilityQuestion, span: CoverageSpan | None, *, created: datetime, profile: FhirProfile
) -> CoverageEligibilityResponse:
    """The answer, validated as an R4 CoverageEligibilityResponse before it leaves."""
    patient = {
        "type": "Patient",
        "identifier": {"system": profile.member_identifier_system, "value": q.member_id},
    }
    contained = [q.insurer_contained] if q.insurer_contained else []
    insurance: list[dict[str, Any]] = []
    if span is not None:
        contained.append(_coverage(span, patient, q.insurer, profile))
        insurance.append(
            {"coverage": {"reference": f"#{span.span_id}"}, "inforce": True, "benefitPeriod": _period(span)}
        )
        disposition = f"coverage in force {q.when()} under plan {span.plan_id}"
    else:
        if q.coverage is not None:
            insurance.append({"coverage": q.coverage, "inforce": False})
        disposition = f"no coverage in force {q.when()}"
    response: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": list(q.purposes),
        "patient": patient,
        "created": created.isoformat(),
        "request": q.request,
        "outcome": "complete",
        "disposition": disposition,
        "insurer": q.insurer,
    }
    if q.start == q.end:
        response["servicedDate"] = q.start.isoformat()
    else:
        response["servicedPeriod"] = {"start": q.start.isoformat(), "end": q.end.isoformat()}
    if contained:
        response["contained"] = contained
    if insurance:
        response["insurance"] = insurance
    return CoverageEligibilityResponse.model_validate(response)
