"""HTTP routes for what provider organizations report: visits and member experience surveys."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_schemas.base import Identifier, MemberId

from . import handlers
from .authorization import check_reporter
from .facts import FHU_ITEMS, Discipline, Survey, SurveyMode, Visit, VisitMode

router = APIRouter(tags=["reported care"])

Answer = Annotated[
    int,
    Field(
        ge=1,
        le=5,
        description='1 "not at all true", 2 "slightly true", 3 "moderately true", 4 "very true", '
        '5 "completely true" (the top box)',
    ),
]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: MemberId
    provider_org_id: Identifier
    visit_date: date
    discipline: Discipline
    mode: VisitMode
    minutes: int = Field(ge=1, le=600)


class SurveyIn(BaseModel):
    """A returned "Feeling Heard and Understood" survey (MIPS #495) and the pain-help item."""

    model_config = ConfigDict(extra="forbid")

    member_id: MemberId
    provider_org_id: Identifier
    survey_date: date
    mode: SurveyMode
    proxy: bool = Field(description="Answered by someone else on the member's behalf.")
    heard_and_understood: Answer = Field(description="I felt heard and understood by this provider and team.")
    best_interests_first: Answer = Field(
        description="I felt this provider and team put my best interests first when making "
        "recommendations about my care."
    )
    seen_as_person: Answer = Field(
        description="I felt this provider and team saw me as a person, not just someone with a "
        "medical condition."
    )
    understood_what_matters: Answer = Field(
        description="I felt this provider and team understood what is important to me in my life."
    )
    pain_help: Answer | None = Field(default=None, description="I got the help I wanted for my pain.")


class Recorded(BaseModel):
    id: str


def _today() -> date:
    """UTC: a day ahead of, or equal to, every US time zone, so a same-day report is never
    refused as being in the future."""
    return datetime.now(UTC).date()


@router.post("/visits", status_code=status.HTTP_201_CREATED, response_model=Recorded)
async def post_visit(body: VisitIn, db: DatabaseDep, caller: CallerDep) -> Recorded:
    """Record one visit. Refused (422) for a member not enrolled with the organization, a date
    outside the enrolment, or a date in the future; 403 when a provider organization's client
    reports for another organization."""
    check_reporter(caller, body.provider_org_id)
    visit = Visit(str(uuid.uuid4()), **body.model_dump())
    await handlers.record_visit(db, visit, _today())
    return Recorded(id=visit.visit_id)


@router.post("/surveys", status_code=status.HTTP_201_CREATED, response_model=Recorded)
async def post_survey(body: SurveyIn, db: DatabaseDep, caller: CallerDep) -> Recorded:
    """Record one returned survey. An answer outside 1..5 is a 422 naming the item; the member,
    date and reporting organization are checked as for a visit."""
    check_reporter(caller, body.provider_org_id)
    survey = Survey(
        survey_id=str(uuid.uuid4()),
        member_id=body.member_id,
        provider_org_id=body.provider_org_id,
        survey_date=body.survey_date,
        mode=body.mode,
        proxy=body.proxy,
        answers={item: getattr(body, item) for item in FHU_ITEMS},
        pain_help=body.pain_help,
    )
    await handlers.record_survey(db, survey, _today())
    return Recorded(id=survey.survey_id)
