"""Coverage lost ends an enrolment: an 834 termination (or a correcting span) of an enrolled
member goes out over the broker as MemberDisenrolled, reason coverage_lost, effective the first
day without coverage, in the past when the news came late."""

import uuid
from datetime import UTC, date, datetime

from hearth_eligibility.x12.enrolment_file import ADD, TERMINATION, MemberMaintenance, enrolment_file

from .stack import Stack
from .test_eligibility import DISENROLLED, ENROLLED, assessment, of, referral

X12 = {"content-type": "application/edi-x12"}


async def enrol(stack: Stack, member_id: str) -> dict:
    ref = referral(member_id, on=date(2026, 11, 2))
    await stack.publish(ref)
    await stack.publish(assessment(member_id, ref.referral_id, assessed_on=date(2026, 11, 5)))
    enrolled = await stack.wait_for_event("eligibility.events", of(member_id, ENROLLED))
    assert enrolled.data["effective_date"] == "2026-11-05"
    return enrolled.data


def file_of(*loops: MemberMaintenance) -> str:
    return enrolment_file(loops, at=datetime.now(UTC), control_number=uuid.uuid4().int % 10**8)


async def test_an_834_termination_of_an_enrolled_member_disenrols_them_from_the_day_after(
    stack: Stack, http, member_id
):
    base = stack.url("eligibility")
    added = await http.post(
        f"{base}/x12/834",
        content=file_of(MemberMaintenance(member_id, ADD, "MCAL-ALA", date(2026, 1, 1))),
        headers=X12,
    )
    assert added.status_code == 200, added.text
    enrolled = await enrol(stack, member_id)

    # Learned on the 24th: coverage ended on the 10th. The last enrolled day is the 10th.
    ended = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(
                member_id, TERMINATION, "MCAL-ALA", date(2026, 1, 1), eligibility_end=date(2026, 11, 10)
            )
        ),
        headers=X12,
    )
    assert ended.status_code == 200, ended.text
    assert (ended.json()["terminations"], ended.json()["disenrolled"]) == (1, 1)

    disenrolled = await stack.wait_for_event("eligibility.events", of(member_id, DISENROLLED))
    assert disenrolled.data == {
        "enrollment_id": enrolled["enrollment_id"],
        "member_id": member_id,
        "provider_org_id": enrolled["provider_org_id"],
        "reason": "coverage_lost",
        "effective_date": "2026-11-11",
    }
    enrolment = (await http.get(f"{base}/members/{member_id}/enrolment")).json()
    assert (enrolment["status"], enrolment["ended_on"], enrolment["end_reason"]) == (
        "disenrolled",
        "2026-11-11",
        "coverage_lost",
    )
    # Sending the same termination again changes nothing and disenrols no one twice.
    again = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(
                member_id, TERMINATION, "MCAL-ALA", date(2026, 1, 1), eligibility_end=date(2026, 11, 10)
            )
        ),
        headers=X12,
    )
    assert (again.json()["unchanged"], again.json()["disenrolled"]) == (1, 0)
    assert len(stack.events("eligibility.events", of(member_id, DISENROLLED))) == 1


async def test_a_termination_of_someone_else_leaves_an_enrolled_member_enrolled(
    stack: Stack, http, member_id
):
    base = stack.url("eligibility")
    other = f"{member_id}-other"
    loaded = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(member_id, ADD, "MCAL-ALA", date(2026, 1, 1)),
            MemberMaintenance(other, ADD, "MCAL-ALA", date(2026, 1, 1)),
        ),
        headers=X12,
    )
    assert loaded.status_code == 200, loaded.text
    await enrol(stack, member_id)
    ended = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(
                other, TERMINATION, "MCAL-ALA", date(2026, 1, 1), eligibility_end=date(2026, 11, 10)
            )
        ),
        headers=X12,
    )
    assert ended.json()["disenrolled"] == 0
    enrolment = (await http.get(f"{base}/members/{member_id}/enrolment")).json()
    assert enrolment["status"] == "enrolled"


async def test_a_span_that_ends_coverage_disenrols_the_enrolled_member(stack: Stack, http, member_id):
    base = stack.url("eligibility")
    span = {
        "plan_id": "plan-9",
        "line_of_business": "d_snp",
        "market": "fresno",
        "provider_org_id": "org-loss",
        "start_date": "2026-01-01",
    }
    first = await http.post(f"{base}/members/{member_id}/coverage", json=span)
    assert first.status_code == 201, first.text
    await enrol(stack, member_id)

    corrected = await http.post(
        f"{base}/members/{member_id}/coverage",
        json=span | {"end_date": "2026-12-31", "supersedes_span_id": first.json()["span_id"]},
    )
    assert corrected.status_code == 201, corrected.text
    disenrolled = await stack.wait_for_event("eligibility.events", of(member_id, DISENROLLED))
    assert (disenrolled.data["reason"], disenrolled.data["effective_date"]) == ("coverage_lost", "2027-01-01")
    enrolment = (await http.get(f"{base}/members/{member_id}/enrolment")).json()
    assert enrolment["status"] == "disenrolling"
