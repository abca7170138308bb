"""270 eligibility inquiries and 271 responses.

Two implementation guides are read: 005010X279A1 (what clearinghouses and practice systems send
today) and 004010X092A1. pyx12 4.0.0 ships the implementation map for 004010X092A1 only, so a
4010 inquiry (and its 271) is validated against the map, while a 5010 one is validated for its
envelope and syntax by pyx12's reader and for its content here: the hierarchy (HL 20 / 21 / 22),
the subscriber's NM1*IL with a member id (NM108 = MI) and its dates.

The 271 answers each subscriber (2000C) with the coverage in force on the date asked (DTP*291 in
5010, DTP*307 in 4010; the interchange date when absent): EB*1 active with the plan, its line
of business as the insurance type and the span's dates, or EB*6 inactive; AAA*Y**75*C when the
registry has never heard of the member. Requester segments are echoed as the guide requires.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files

from ..coverage import CoverageHistory, CoverageSpan
from .interchange import Party, Segment, interchange
from .validation import X12Error, X12Rejected, X12Segment, read_envelope_checked, read_validated

X279 = "005010X279A1"
X092 = "004010X092A1"
WHAT = "the 270 inquiry"
_MEMBER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CODES = tomllib.loads(files(__package__).joinpath("eligibility_codes.toml").read_text())


@dataclass
class Subscriber:
    hl: X12Segment
    trace: X12Segment | None = None
    name: X12Segment | None = None
    on: date | None = None

    @property
    def member_id(self) -> str:
        return self.name.element(9) if self.name else ""


@dataclass
class Inquiry:
    version: str
    sender: Party
    receiver: Party
    reference: str
    asked_at: date
    source: list[X12Segment] = field(default_factory=list)
    receiver_loop: list[X12Segment] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)

    @property
    def member_ids(self) -> set[str]:
        return {s.member_id for s in self.subscribers}


def _d8(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _version(text: str) -> str:
    """GS08 without a full parse, to pick the validation; unknown versions fail in pyx12."""
    for raw in text.split(text[105] if len(text) > 105 else "~")[:3]:
        fields = raw.strip().split(text[3] if len(text) > 3 else "*")
        if fields[0] == "GS" and len(fields) > 8:
            return fields[8]
    return ""


def read_inquiry(text: str) -> Inquiry:
    """A validated 270, or `X12Rejected` naming each segment that is wrong."""
    version = _version(text)
    if version == X279:
        segments = read_envelope_checked(text, what=WHAT)
    elif version == X092:
        segments = read_validated(text, what=WHAT)
    else:
        raise X12Rejected([X12Error("GS", 2, 2, f"GS08 must be {X279} or {X092}", element="GS08")], WHAT)
    isa, gs = segments[0], segments[1]
    errors: list[X12Error] = []
    if gs.element(1) != "HS":
        errors.append(X12Error("GS", gs.position, gs.line, "GS01 must be HS (eligibility inquiry)", "GS01"))
    try:
        asked_at = _d8("20" + isa.element(9))
    except ValueError:
        raise X12Rejected(
            [X12Error("ISA", None, isa.line, "ISA09 must be a date YYMMDD", "ISA09")], WHAT
        ) from None
    inquiry = Inquiry(
        version,
        Party(isa.element(6).strip(), isa.element(5)),
        Party(isa.element(8).strip(), isa.element(7)),
        "",
        asked_at,
    )
    level = ""
    for seg in segments[2:]:
        if seg.id == "BHT":
            inquiry.reference = seg.element(3)
        elif seg.id == "HL":
            level = seg.element(3)
            if level == "22":
                inquiry.subscribers.append(Subscriber(seg))
            elif level not in ("20", "21"):
                errors.append(X12Error("HL", seg.position, seg.line, "HL03 must be 20, 21 or 22", "HL03"))
        elif level == "20" and seg.id == "NM1":
            inquiry.source = [seg]
        elif level == "21" and seg.id == "NM1":
            inquiry.receiver_loop = [seg]
        elif level == "22" and inquiry.subscribers:
            _subscriber_segment(inquiry.subscribers[-1], seg, errors)
    if not inquiry.reference:
        errors.append(
            X12Error("BHT", None, None, "the BHT segment with a reference (BHT03) is required", "BHT03")
        )
    if not inquiry.source or not inquiry.receiver_loop:
        errors.append(
            X12Error(
                "HL", None, None, "the information source (HL 20) and receiver (HL 21) loops are required"
            )
        )
    if not inquiry.subscribers:
        errors.append(
            X12Error("HL", None, None, "at least one subscriber loop (HL*...*22) is required", "HL03")
        )
    for sub in inquiry.subscribers:
        if sub.name is None or sub.name.element(8) != "MI" or not _MEMBER_ID.match(sub.member_id):
            where = sub.name or sub.hl
            errors.append(
                X12Error(
                    "NM1",
                    where.position,
                    where.line,
                    "the subscriber needs NM1*IL with a member id (NM108 = MI)",
                    "NM109",
                )
            )
    if errors:
        raise X12Rejected(errors, WHAT)
    return inquiry


def _subscriber_segment(sub: Subscriber, seg: X12Segment, errors: list[X12Error]) -> None:
    if seg.id == "TRN":
        sub.trace = seg
    elif seg.id == "NM1" and seg.element(1) == "IL":
        sub.name = seg
    elif seg.id == "DTP" and seg.element(1) in ("291", "307"):
        try:
            sub.on = _d8(seg.element(3))
        except (ValueError, IndexError):
            errors.append(X12Error("DTP", seg.position, seg.line, "DTP03 must be a date CCYYMMDD", "DTP03"))


def _eb(span: CoverageSpan | None) -> list[Segment]:
    if span is None:
        return [("EB", "6", _CODES["coverage_level"], _CODES["service_type"])]
    lines: list[Segment] = [
        (
            "EB",
            "1",
            _CODES["coverage_level"],
            _CODES["service_type"],
            _CODES["insurance_type"][span.line_of_business],
            span.plan_id[:50],
        ),
        ("DTP", "348", "D8", span.start_date.strftime("%Y%m%d")),
    ]
    if span.end_date is not None:
        lines.append(("DTP", "349", "D8", span.end_date.strftime("%Y%m%d")))
    return lines


def answer(
    inquiry: Inquiry, histories: Mapping[str, CoverageHistory], *, at: datetime, control_number: int
) -> str:
    """The 271 for an inquiry, from each subscriber's coverage history."""
    body: list[Segment] = [
        ("BHT", "0022", "11", inquiry.reference, at.strftime("%Y%m%d"), at.strftime("%H%M"))
    ]
    source_hl = ("HL", "1", "", "20", "1")
    receiver_hl = ("HL", "2", "1", "21", "1")
    body += [
        source_hl,
        ("NM1", *inquiry.source[0].elements),
        receiver_hl,
        ("NM1", *inquiry.receiver_loop[0].elements),
    ]
    date_qualifier = "291" if inquiry.version == X279 else "307"
    for number, sub in enumerate(inquiry.subscribers, start=3):
        assert sub.name is not None
        on = sub.on or inquiry.asked_at
        body.append(("HL", str(number), "2", "22", "0"))
        if sub.trace is not None:
            body.append(("TRN", "2", *sub.trace.elements[1:]))
        body.append(("NM1", *sub.name.elements))
        history = histories.get(sub.member_id)
        known = history is not None and bool(history.spans)
        if not known:
            # Subscriber/insured not found: the registry never had coverage for this member id.
            body.append(("AAA", "Y", "", "75", "C"))
        body.append(("DTP", date_qualifier, "D8", on.strftime("%Y%m%d")))
        if history is not None and known:
            body += _eb(history.in_force(on))
    return interchange(
        sender=inquiry.receiver,
        receiver=inquiry.sender,
        functional_id="HB",
        version=inquiry.version,
        transaction_set="271",
        body=body,
        control_number=control_number,
        at=at,
        version_number="00501" if inquiry.version == X279 else "00401",
    )
