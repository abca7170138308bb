"""Months of the demo: which six consecutive billing months a run uses.

A run needs months that are still open in billing (a closed month is never rewritten), and that
are over: the quality service refuses visits and surveys dated in the future, so the last month
of the window is at latest the month before today. The window ends at the newest month that
allows that and moves back past any month already closed, so a rerun against the same stack
takes the six months before the previous run's."""

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2 or not 1 <= int(month) <= 12:
            raise ValueError(f"{text!r} is not a month written YYYY-MM")
        return cls(int(year), int(month))

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def choose_window(
    is_closed: Callable[[Month], bool], *, today: date, end: Month | None = None, length: int = 6
) -> list[Month]:
    """`length` consecutive open months ending at `end` (default: the month before today's), or
    earlier when one of them is closed."""
    last = end or Month.of(today).plus(-1)
    for _ in range(240):
        window = [last.plus(i - length + 1) for i in range(length)]
        closed = [m for m in window if is_closed(m)]
        if not closed:
            return window
        last = min(closed).plus(-1)
    raise ValueError("no six consecutive open billing months in the last twenty years")
