"""The billing period: a calendar month, written "YYYY-MM" everywhere it leaves the service."""

import calendar
import re
from dataclasses import dataclass
from datetime import date

from hearth_platform.errors import Invalid

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        if not _MONTH.match(text):
            raise Invalid(
                f"month {text!r} is not a calendar month written YYYY-MM",
                detail=[{"field": "month", "reason": "expected YYYY-MM"}],
            )
        if text.startswith("0000"):
            # The pattern's four digits admit year 0, which no calendar (nor Python's date) has.
            raise Invalid(
                f"month {text!r} is in year 0, which does not exist",
                detail=[{"field": "month", "reason": "the year must be from 0001"}],
            )
        return cls(int(text[:4]), int(text[5:]))

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
