"""Facts reported to quality besides enrolments and assessments: visits and surveys posted by
provider organizations, claim lines from the plan. Plain Python, no I/O.

Only structured, measure-relevant fields are kept: no names, no free text.
"""

from dataclasses import dataclass
from datetime import date
from typing import Literal

Discipline = Literal["rn", "social_worker", "chaplain", "physician", "np", "care_navigator"]
VisitMode = Literal["in_person", "video", "phone"]
SurveyMode = Literal["mail", "phone", "web"]
# The four "Feeling Heard and Understood" items (MIPS #495), each answered on 1..5.
FHU_ITEMS: tuple[str, ...] = (
    "heard_and_understood",
    "best_interests_first",
    "seen_as_person",
    "understood_what_matters",
)


@dataclass(frozen=True)
class Visit:
    visit_id: str
    member_id: str
    provider_org_id: str
    visit_date: date
    discipline: str
    mode: str
    minutes: int
    # The day quality received the report (timeliness of provider submissions).
    received_on: date | None = None


@dataclass(frozen=True)
class Survey:
    """One returned member experience survey; `answers` maps each FHU item to its 1..5 answer."""

    survey_id: str
    member_id: str
    provider_org_id: str
    survey_date: date
    mode: str
    proxy: bool
    answers: dict[str, int]
    pain_help: int | None = None


@dataclass(frozen=True)
class ClaimLine:
    """The utilization-relevant fields of one adjudicated claim line."""

    claim_id: str
    line_number: int
    member_id: str
    claim_type: str
    service_from: date
    service_to: date
    admission_type: str | None = None
    ed_visit: bool = False
    discharge_status: str | None = None


@dataclass(frozen=True)
class Referral:
    """A referral to the program: who, when, and the organization it was sent to if any."""

    referral_id: str
    member_id: str
    referral_date: date
    provider_org_id: str | None = None
