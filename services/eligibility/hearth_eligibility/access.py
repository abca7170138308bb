"""Who may see which member's eligibility data, decided from the coverage registry itself.

Eligibility knows a member's organizations only through coverage: each span names the attributed
provider organization and, if recorded, the ACO. So a provider's client sees a member while one of
the member's spans in effect (not superseded) attributes the member to it, an ACO's client while
one names its ACO, and the plan sees every member. Re-attribution supersedes the old spans: an
organization attributed over none of the member's coverage any more stops seeing the member, one
that keeps an earlier period (attribution from a date on) keeps seeing it, as it cared for it.

A member the caller may not see is answered exactly like a member the registry does not know
(404, "not in force" in FHIR and X12 answers), so ids are never confirmed. The filter is a
condition of the query that reads the data (`repository.attributed_to`), never a Python filter
after loading.

Loading coverage (a span, a roster, an 834) is the plan's operation: the plan is the source of
truth for who it covers. The one exception is a Da Vinci ATR attribution list (FHIR `Group`): a
provider or ACO may post one naming itself as managingEntity, for members already attributed to it
(it may extend or restate their attribution over their coverage, never claim another's member).
Disenrolment is the enrolled provider organization's act (or the plan's).
"""

from dataclasses import dataclass

from hearth_platform.auth import Forbidden, Principal


@dataclass(frozen=True, slots=True)
class Audience:
    """The members a caller may see: all (the plan, `org` None), or those whose spans in effect
    name `org` in `column` (`provider_org_id` for a provider, `aco_id` for an ACO)."""

    org: str | None
    column: str = "provider_org_id"

    @classmethod
    def of(cls, caller: Principal) -> "Audience":
        if caller.is_plan:
            return cls(None)
        return cls(caller.org, "aco_id" if caller.org_type == "aco" else "provider_org_id")

    @property
    def sees_all(self) -> bool:
        return self.org is None


EVERYONE = Audience(None)


class PlanOnly(Forbidden):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is the plan's operation: a provider or ACO client may not do it")


def require_plan(caller: Principal, what: str) -> None:
    if not caller.is_plan:
        raise PlanOnly(what)
