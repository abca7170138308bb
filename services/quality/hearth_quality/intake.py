"""The rules a reported visit or survey must meet before it is stored. Plain Python.

A provider organization reports care it gave: the member must be known to quality as enrolled
with that organization (an enrolment received from eligibility), and the date must fall on a day
the member was enrolled there and not in the future. A refused report names the field at fault
and stores nothing. Messages never echo the submitted values.
"""

from collections.abc import Sequence
from datetime import date

from hearth_platform.errors import Invalid

from .domain import Enrolment


class ReportRefused(Invalid):
    def __init__(self, message: str, field: str, reason: str) -> None:
        super().__init__(message, detail=[{"field": field, "reason": reason}])


def check_reported_on(date_field: str, on: date, enrolments: Sequence[Enrolment], today: date) -> None:
    """`enrolments` are the member's enrolments with the reporting organization."""
    if on > today:
        raise ReportRefused(f"{date_field} is in the future", date_field, "must be today or earlier")
    in_force = [e for e in enrolments if e.ended_on is None or e.ended_on > e.effective_date]
    if not in_force:
        raise ReportRefused(
            "the member is not enrolled with this provider organization",
            "member_id",
            "no enrolment of this member with provider_org_id",
        )
    if on < min(e.effective_date for e in in_force):
        raise ReportRefused(
            f"{date_field} is before the member's enrolment", date_field, "before the enrolment date"
        )
    if not any(e.enrolled_on(on) for e in in_force):
        raise ReportRefused(
            f"{date_field} is outside the member's enrolment",
            date_field,
            "the member was not enrolled with provider_org_id on this date",
        )
