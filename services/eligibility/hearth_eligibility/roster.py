"""Coverage rosters (CSV or NDJSON): parsing, line-by-line validation, and the plan of what a
roster adds to the registry. Plain Python, no I/O.

A roster is applied whole or not at all: a plan with any error writes nothing, and its errors
name the line and the field, so a sender can fix every problem in one round. A line identical to
a span already in effect is "unchanged" (rosters are re-sent every month); any other line that
shares a day with a span in effect, or with another line of the same file, is contradictory and
both are named. Corrections of existing spans go through `supersedes_span_id`, not through a
roster.
"""

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from hearth_platform.errors import Invalid
from hearth_schemas.base import Identifier, MemberId

from .coverage import CoverageHistory, CoverageSpan, LineOfBusiness

REQUIRED_COLUMNS = ("member_id", "plan_id", "line_of_business", "market", "start_date")
OPTIONAL_COLUMNS = ("aco_id", "provider_org_id", "end_date")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def _iso_date(value: Any) -> date:
    """Only YYYY-MM-DD: a number or a local date format is an error, never a guess."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class RosterFields(BaseModel):
    """One roster line as sent."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    member_id: MemberId
    plan_id: Identifier
    line_of_business: LineOfBusiness
    market: Identifier = Field(description="Market or county, e.g. 'alameda'.")
    aco_id: Identifier | None = None
    provider_org_id: Identifier | None = None
    start_date: IsoDate
    end_date: IsoDate | None = None

    @field_validator("member_id", "plan_id", "market", "aco_id", "provider_org_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        # Postgres text cannot hold NUL; refuse it here rather than fail the whole load later.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


@dataclass(frozen=True)
class RosterLine:
    line: int
    fields: RosterFields

    def describe(self) -> str:
        until = self.fields.end_date.isoformat() if self.fields.end_date else "open-ended"
        return (
            f"line {self.line} (plan {self.fields.plan_id}, {self.fields.start_date.isoformat()} to {until})"
        )

    def overlaps(self, other: "RosterLine") -> bool:
        a, b = self.fields, other.fields
        return (b.end_date is None or a.start_date <= b.end_date) and (
            a.end_date is None or b.start_date <= a.end_date
        )


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    reason: str

    def as_detail(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class ParsedRoster:
    lines: list[RosterLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    # Non-blank data lines seen, valid or not.
    count: int = 0


class RosterRejected(Invalid):
    """The whole roster is refused; `detail` lists every line's errors, in line order."""

    def __init__(self, errors: Iterable[LineError], lines: int) -> None:
        ordered = sorted(errors, key=lambda e: (e.line, e.field))
        bad_lines = len({e.line for e in ordered})
        super().__init__(
            f"the roster has {len(ordered)} errors on {bad_lines} of {lines} lines; nothing was loaded",
            detail=[e.as_detail() for e in ordered],
        )


def _validate(line: int, raw: Mapping[str, Any], parsed: ParsedRoster) -> None:
    parsed.count += 1
    try:
        fields = RosterFields.model_validate(raw)
    except ValidationError as invalid:
        for e in invalid.errors(include_input=False, include_url=False):
            name = str(e["loc"][0]) if e["loc"] else "(line)"
            reason = "is required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
            parsed.errors.append(LineError(line, name, reason))
        return
    if fields.end_date is not None and fields.end_date < fields.start_date:
        parsed.errors.append(LineError(line, "end_date", "must be on or after start_date"))
        return
    parsed.lines.append(RosterLine(line, fields))


def parse_csv(text: str) -> ParsedRoster:
    """Line 1 is the header (columns in any order; the optional ones may be left out); empty
    cells of optional columns mean "none"."""
    parsed = ParsedRoster()
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                problems = _header_problems(header, reader.line_num)
                if problems:
                    parsed.errors.extend(problems)
                    return parsed
                continue
            if len(row) != len(header):
                parsed.count += 1
                parsed.errors.append(
                    LineError(reader.line_num, "(line)", f"has {len(row)} fields, the header {len(header)}")
                )
                continue
            cells = {name: cell.strip() for name, cell in zip(header, row, strict=True) if cell.strip()}
            _validate(reader.line_num, cells, parsed)
    except csv.Error as broken:
        parsed.errors.append(LineError(reader.line_num, "(line)", f"is not valid CSV: {broken}"))
    if header is None:
        parsed.errors.append(LineError(1, "(header)", "the roster is empty: expected a header line"))
    return parsed


def _header_problems(header: list[str], line: int) -> list[LineError]:
    problems = [LineError(line, name, "is not a roster column") for name in header if name not in COLUMNS]
    problems += [
        LineError(line, name, "column is missing") for name in REQUIRED_COLUMNS if name not in header
    ]
    problems += [
        LineError(line, name, "column appears twice") for name in set(header) if header.count(name) > 1
    ]
    return problems


def parse_ndjson(text: str) -> ParsedRoster:
    """One JSON object per line with the roster's fields; blank lines are skipped."""
    parsed = ParsedRoster()
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            value = orjson.loads(raw_line)
        except orjson.JSONDecodeError:
            parsed.count += 1
            parsed.errors.append(LineError(number, "(line)", "is not valid JSON"))
            continue
        if not isinstance(value, dict):
            parsed.count += 1
            parsed.errors.append(LineError(number, "(line)", "must be a JSON object"))
            continue
        _validate(number, value, parsed)
    if parsed.count == 0:
        parsed.errors.append(LineError(1, "(line)", "the roster has no lines"))
    return parsed


@dataclass(frozen=True)
class RosterPlan:
    """What applying a roster would do: the spans to add, the lines already known, the errors."""

    spans: list[CoverageSpan]
    unchanged: int
    errors: list[LineError]


def _span(line: RosterLine, at: datetime) -> CoverageSpan:
    f = line.fields
    return CoverageSpan(
        span_id=str(uuid.uuid4()),
        member_id=f.member_id,
        plan_id=f.plan_id,
        line_of_business=f.line_of_business,
        market=f.market,
        aco_id=f.aco_id,
        provider_org_id=f.provider_org_id,
        start_date=f.start_date,
        end_date=f.end_date,
        recorded_at=at,
    )


def plan_roster(
    lines: Iterable[RosterLine], histories: Mapping[str, CoverageHistory], *, at: datetime
) -> RosterPlan:
    """Check each valid line against the spans in effect and against the file's other lines."""
    spans: list[CoverageSpan] = []
    unchanged = 0
    errors: list[LineError] = []
    seen: dict[str, list[RosterLine]] = defaultdict(list)
    for line in lines:
        candidate = _span(line, at)
        f = line.fields
        clashes = [earlier for earlier in seen[f.member_id] if earlier.overlaps(line)]
        seen[f.member_id].append(line)
        for earlier in clashes:
            errors.append(
                LineError(
                    line.line,
                    "start_date",
                    f"{line.describe()} overlaps {earlier.describe()} of the same member",
                )
            )
        existing = histories[f.member_id].overlapping(f.start_date, f.end_date)
        if len(existing) == 1 and existing[0].same_facts(candidate):
            if not clashes:
                unchanged += 1
            continue
        for span in existing:
            errors.append(LineError(line.line, "start_date", f"{line.describe()} overlaps {span.describe()}"))
        if not clashes and not existing:
            spans.append(candidate)
    return RosterPlan(spans, unchanged, errors)
