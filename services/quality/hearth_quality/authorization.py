"""Which organization's quality data a caller may read or report. Plain Python.

Everything quality holds belongs to one provider organization: a result, a run's results and
their changes, a CSV row and a summary `MeasureReport` to the organization scored; a visit or a
survey to the organization that reports it, for a member enrolled with it; an individual
`MeasureReport` to the organization whose member the subject is.

- The plan's clients read everything and may report for any organization.
- A provider organization's client reads its own results only: a list or report without an
  organization means its own, and naming another organization is refused (403: organization ids
  are not secret, so the refusal confirms nothing). It reports visits and surveys only as itself
  (`provider_org_id` must be its organization), and only for members enrolled with it (checked
  against the enrolments, see intake.py).
- An ACO's client: quality does not receive ACO attribution (eligibility keeps the roster and
  publishes no event of it), so it cannot tell which organizations' results are an ACO's. Until
  it does, ACO clients are refused (403) every organization-level read and every report; the
  measure catalogue, which holds no organization's data, is open to them.
- Scoring a period on demand (`POST /measures/run`) scores and publishes every organization at
  once, so it is the plan's alone.
"""

from hearth_platform.auth import Forbidden, Principal


def _refuse_aco(caller: Principal) -> None:
    if caller.org_type == "aco":
        raise Forbidden(
            "quality does not know which provider organizations are attributed to an ACO; "
            "an ACO's client cannot read or report organization-level quality data"
        )


def readable_org(caller: Principal, requested: str | None, field: str = "provider_org_id") -> str | None:
    """The organization whose results the caller reads: `requested` for the plan (None: every
    organization), the caller's own organization for a provider client. `field` is the query
    parameter that named the organization, for the refusal."""
    if caller.is_plan:
        return requested
    _refuse_aco(caller)
    if requested is not None and requested != caller.org:
        raise Forbidden(
            "a provider organization's client reads only its own organization's results",
            detail=[{"field": field, "reason": "must be the client's organization"}],
        )
    return caller.org


def check_reporter(caller: Principal, provider_org_id: str) -> None:
    """A provider organization's client reports care only as its own organization."""
    if caller.is_plan:
        return
    _refuse_aco(caller)
    if provider_org_id != caller.org:
        raise Forbidden(
            "a provider organization's client reports only its own care: "
            "provider_org_id must be the client's organization",
            detail=[{"field": "provider_org_id", "reason": "must be the client's organization"}],
        )


def check_plan(caller: Principal, operation: str) -> None:
    """Operations over every organization at once are the plan's."""
    if not caller.is_plan:
        raise Forbidden(f"{operation} is for the plan's clients only")
