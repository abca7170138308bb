"""834 enrolment files: from validated segments to member maintenance, and the plan of what a
file changes in the coverage registry. Plain Python, no I/O.

Each 2000 member loop is one maintenance (INS03): 021 adds a span, 001 changes the span in
effect over the same dates, 024 ends the span in force on the termination date (DTP*357). A
change or termination never overwrites: it is a new span that supersedes the old one, recorded
at load time, so the registry still answers "what did we know before this file". Loops are
applied in file order, so a file may add a member and later change or end that same coverage.
A file is applied whole or not at all; its errors name the INS segment of the member loop.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from importlib.resources import files
from typing import Any

from hearth_platform.ids import new_id

from ..coverage import LINES_OF_BUSINESS, CoverageHistory, CoverageSpan
from .validation import X12Error, X12Segment

ADD, CHANGE, TERMINATION = "021", "001", "024"
_MEMBER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class PlanCode:
    plan_id: str
    line_of_business: str
    market: str


@dataclass(frozen=True)
class PlanCodes:
    version: str
    plans: Mapping[str, PlanCode]


def load_plan_codes(text: str | None = None) -> PlanCodes:
    """Read the HD04 mapping (the packaged file unless `text` is given); a bad file fails loudly."""
    raw = tomllib.loads(
        text if text is not None else files(__package__).joinpath("plan_codes.toml").read_text()
    )
    plans = {}
    for code, entry in raw["plans"].items():
        if entry["line_of_business"] not in LINES_OF_BUSINESS:
            raise ValueError(f"plan code {code}: unknown line_of_business {entry['line_of_business']!r}")
        plans[code] = PlanCode(entry["plan_id"], entry["line_of_business"], entry["market"])
    return PlanCodes(str(raw["version"]), plans)


@dataclass(frozen=True)
class Maintenance:
    """One member loop's request, with where it stands in the file (its INS segment)."""

    maintenance: str
    member_id: str
    plan: PlanCode
    start: date | None
    end: date | None
    termination: date | None
    position: int
    line: int

    def error(self, field: str, reason: str) -> X12Error:
        return X12Error("INS", self.position, self.line, reason, element=field)


def _d8(value: str) -> date | None:
    """A CCYYMMDD date; None if it is none (the validators refuse those before, so this only
    keeps a gap between them from ever becoming a 500)."""
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


_ENVELOPE = frozenset(("SE", "GE", "IEA", "ST", "ISA", "GS"))


def _member_loops(segments: list[X12Segment]) -> list[list[X12Segment]]:
    loops: list[list[X12Segment]] = []
    current: list[X12Segment] | None = None
    for seg in segments:
        if seg.id == "INS":
            current = [seg]
            loops.append(current)
        elif seg.id in _ENVELOPE:
            current = None
        elif current is not None:
            current.append(seg)
    return loops


def read_maintenance(
    segments: list[X12Segment], codes: PlanCodes
) -> tuple[list[Maintenance], list[X12Error]]:
    """The member loops of a valid 834, and what Hearth cannot use in them."""
    items: list[Maintenance] = []
    errors: list[X12Error] = []
    for loop in _member_loops(segments):
        ins = loop[0]
        found: dict[str, Any] = {}
        for seg in loop[1:]:
            # Elements by index (0 = the segment's first element): the hot loop of a big file.
            e = seg.elements
            if seg.id == "REF" and seg.loop == "2000" and e[0] == "0F":
                found["member_id"] = e[1]
            elif seg.id == "NM1" and e[0] == "IL" and len(e) > 8 and e[7] == "ZZ" and e[8]:
                # NM108 = ZZ: a mutually defined member id (34 would be a social security number).
                found.setdefault("nm1_id", e[8])
            elif seg.id == "DTP" and seg.loop == "2000" and e[0] == "357":
                found["termination"] = _d8(e[2])
            elif seg.id == "HD":
                found.setdefault("hd", []).append(e[3] if len(e) > 3 else "")
            elif seg.id == "DTP" and seg.loop == "2300" and e[0] in ("348", "349") and e[1] == "D8":
                found["start" if e[0] == "348" else "end"] = _d8(e[2])
        where = (ins.position, ins.line)
        member_id = found.get("member_id") or found.get("nm1_id") or ""
        problems: list[tuple[str, str]] = []
        if not _MEMBER_ID.match(member_id):
            problems.append(("REF02", "member id (REF*0F) must be 1-64 letters, digits or . _ : -"))
        kind = ins.element(3)
        if kind not in (ADD, CHANGE, TERMINATION):
            problems.append(
                ("INS03", f"maintenance type {kind} is not supported (021 add, 001 change, 024 termination)")
            )
        hd = found.get("hd", [])
        if len(hd) != 1:
            problems.append(
                ("HD04", f"the member loop must carry exactly one health coverage (HD) loop, not {len(hd)}")
            )
        elif hd[0] not in codes.plans:
            problems.append(
                ("HD04", f"plan code {hd[0]} is not in the plan code mapping version {codes.version}")
            )
        if kind in (ADD, CHANGE) and "start" not in found:
            problems.append(("DTP348", "an add or change needs the benefit begin date (DTP*348)"))
        if kind == TERMINATION and "termination" not in found and "end" not in found:
            problems.append(("DTP357", "a termination needs the eligibility end date (DTP*357)"))
        if found.get("start") and found.get("end") and found["end"] < found["start"]:
            problems.append(("DTP349", "the benefit end date (DTP*349) is before the begin date (DTP*348)"))
        if any(found.get(k, True) is None for k in ("start", "end", "termination")):
            problems.append(("DTP03", "a date of the member loop is not a valid CCYYMMDD date"))
        if problems:
            errors += [X12Error("INS", *where, reason, element=field) for field, reason in problems]
            continue
        items.append(
            Maintenance(
                kind,
                member_id,
                codes.plans[hd[0]],
                found.get("start"),
                found.get("end"),
                found.get("termination", found.get("end")),
                *where,
            )
        )
    return items, errors


@dataclass(frozen=True)
class EnrolmentPlan:
    spans: list[CoverageSpan]
    unchanged: int
    errors: list[X12Error]


def plan_enrolment(
    items: list[Maintenance], histories: Mapping[str, CoverageHistory], *, at: datetime
) -> EnrolmentPlan:
    """Apply the member loops in order to each member's spans in effect; collect every refusal."""
    in_effect: dict[str, list[CoverageSpan]] = {m: h.current() for m, h in histories.items()}
    spans: list[CoverageSpan] = []
    unchanged = 0
    errors: list[X12Error] = []

    # Spans this file adds, by id -> the member loop that added them, to name it in errors.
    added_by: dict[str, Maintenance] = {}

    def describe(span: CoverageSpan) -> str:
        if (origin := added_by.get(span.span_id)) is not None:
            return f"the coverage of the member loop at segment {origin.position} (line {origin.line})"
        return span.describe()

    def record(span: CoverageSpan, replaces: CoverageSpan | None, item: Maintenance) -> None:
        added_by[span.span_id] = item
        current = in_effect.setdefault(span.member_id, [])
        if replaces is not None:
            current.remove(replaces)
        current.append(span)
        spans.append(span)

    for item in items:
        current = in_effect.setdefault(item.member_id, [])
        if item.maintenance == TERMINATION:
            assert item.termination is not None
            ends = item.termination
            open_on = [
                s for s in current if s.start_date <= ends and (s.end_date is None or s.end_date >= ends)
            ]
            if len(open_on) != 1:
                errors.append(
                    item.error(
                        "DTP357",
                        f"member {item.member_id} has no coverage in effect on the termination date {ends.isoformat()}",
                    )
                )
            elif open_on[0].end_date == ends:
                unchanged += 1
            else:
                old = open_on[0]
                record(
                    replace(
                        old,
                        span_id=new_id(),
                        end_date=ends,
                        recorded_at=at,
                        supersedes_span_id=old.span_id,
                    ),
                    old,
                    item,
                )
            continue
        assert item.start is not None
        candidate = CoverageSpan(
            span_id=new_id(),
            member_id=item.member_id,
            plan_id=item.plan.plan_id,
            line_of_business=item.plan.line_of_business,
            market=item.plan.market,
            aco_id=None,
            provider_org_id=None,
            start_date=item.start,
            end_date=item.end,
            recorded_at=at,
        )
        overlapping = [s for s in current if s.overlaps(item.start, item.end)]
        if len(overlapping) == 1 and _same_coverage(overlapping[0], candidate):
            unchanged += 1
        elif item.maintenance == ADD and overlapping:
            errors.append(
                item.error(
                    "DTP348",
                    f"the added coverage overlaps {describe(overlapping[0])}; send a change (001) to correct it",
                )
            )
        elif item.maintenance == CHANGE and len(overlapping) != 1:
            reason = (
                "no coverage in effect over those dates to change"
                if not overlapping
                else f"the change overlaps {len(overlapping)} spans in effect"
            )
            errors.append(item.error("DTP348", f"member {item.member_id}: {reason}"))
        else:
            old = overlapping[0] if overlapping else None
            if old is not None:
                candidate = replace(
                    candidate,
                    supersedes_span_id=old.span_id,
                    aco_id=old.aco_id,
                    provider_org_id=old.provider_org_id,
                )
            record(candidate, old, item)
    return EnrolmentPlan(spans, unchanged, errors)


def _same_coverage(existing: CoverageSpan, candidate: CoverageSpan) -> bool:
    """A re-sent loop: same plan and dates (the 834 carries no attribution, so that is kept)."""
    return (
        existing.plan_id,
        existing.line_of_business,
        existing.market,
        existing.start_date,
        existing.end_date,
    ) == (
        candidate.plan_id,
        candidate.line_of_business,
        candidate.market,
        candidate.start_date,
        candidate.end_date,
    )
