"""Writing 834 enrolment files (005010X220A1), as a plan's enrolment system sends them.

Used by the tests and the benchmark to build genuine files, and by anyone who needs a sample.
Names are placeholders: Hearth never stores or echoes member names.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from .interchange import Party, Segment, interchange

VERSION_834 = "005010X220A1"
ADD, CHANGE, TERMINATION = "021", "001", "024"
# INS04 maintenance reason codes: 28 initial enrolment, 25 change in identifying data elements,
# 59 non-payment (a common termination reason), AI no reason given.
_REASONS = {ADD: "28", CHANGE: "25", TERMINATION: "59"}


@dataclass(frozen=True)
class MemberMaintenance:
    """One member loop (2000): an add, a change or a termination of coverage under a plan code."""

    member_id: str
    maintenance: str
    plan_code: str
    coverage_start: date
    coverage_end: date | None = None
    # DTP*357 eligibility end date, sent with a termination.
    eligibility_end: date | None = None


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def member_loop(m: MemberMaintenance) -> list[Segment]:
    """The 2000 loop with its 2100A member name and 2300 health coverage loops."""
    loop: list[Segment] = [
        ("INS", "Y", "18", m.maintenance, _REASONS[m.maintenance], "A", "", "", "FT"),
        ("REF", "0F", m.member_id),
    ]
    if m.eligibility_end is not None:
        loop.append(("DTP", "357", "D8", _d8(m.eligibility_end)))
    loop += [
        ("NM1", "IL", "1", "MEMBER", "PLACEHOLDER", "", "", "", "ZZ", m.member_id),
        ("HD", m.maintenance, "", "HLT", m.plan_code, "IND"),
        ("DTP", "348", "D8", _d8(m.coverage_start)),
    ]
    end = m.coverage_end if m.coverage_end is not None else m.eligibility_end
    if end is not None:
        loop.append(("DTP", "349", "D8", _d8(end)))
    return loop


def enrolment_file(
    members: Iterable[MemberMaintenance],
    *,
    at: datetime,
    control_number: int = 1,
    reference: str = "HEARTH-834",
    sender: Party = Party("PLANENROLL"),
    receiver: Party = Party("HEARTH"),
) -> str:
    """A whole 834 interchange: header (BGN, sponsor, payer), one 2000 loop per member."""
    body: list[Segment] = [
        ("BGN", "00", reference, _d8(at.date()), at.strftime("%H%M"), "", "", "", "2"),
        ("N1", "P5", "PLAN SPONSOR", "FI", "123456789"),
        ("N1", "IN", "HEALTH PLAN", "FI", "987654321"),
    ]
    for m in members:
        body += member_loop(m)
    return interchange(
        sender=sender,
        receiver=receiver,
        functional_id="BE",
        version=VERSION_834,
        transaction_set="834",
        body=body,
        control_number=control_number,
        at=at,
    )
