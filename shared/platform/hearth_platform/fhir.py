"""FHIR error answers shared by the services that speak FHIR: every problem of a request becomes
one issue of one `OperationOutcome`, naming the element (`expression`) and the reason, never the
submitted value."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    expression: str
    diagnostics: str
    code: str = "invalid"

    def as_fhir(self) -> dict[str, Any]:
        return {
            "severity": "error",
            "code": self.code,
            "diagnostics": self.diagnostics,
            "expression": [self.expression],
        }


@dataclass
class FhirProblem(Exception):
    """The request cannot be answered; `status` is 400 for a body that is not JSON, else 422."""

    issues: list[Issue] = field(default_factory=list)
    status: int = 422

    def outcome(self) -> dict[str, Any]:
        return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in self.issues]}
