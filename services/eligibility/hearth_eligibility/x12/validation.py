"""Reading X12 with pyx12: the whole interchange is validated against pyx12's implementation
guide maps (envelope counts and control numbers, loop structure, required segments, element
codes, lengths and dates) before anything is taken from it.

Errors name the segment id, its position (segment number within the transaction set, as a 999
would) and its line, with pyx12's reason. pyx12 puts element values in its messages and logs;
a value may be a member's name, so both are kept out: its logger is silenced and the value is cut
from every reason.
"""

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyx12.errors
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document

from hearth_platform.errors import Invalid

# pyx12 logs each error with the offending value; a value can be a member name.
logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)


class X12Segment(NamedTuple):
    """One segment as read, with the map loop it belongs to (e.g. "2000", "2300"). A tuple: an
    834 of 100,000 members has 600,000 of them."""

    id: str
    loop: str
    position: int
    line: int
    elements: tuple[str, ...]

    def element(self, number: int) -> str:
        """The element at 1-based `number` (e.g. 3 for INS03); "" when absent."""
        return self.elements[number - 1] if number <= len(self.elements) else ""


@dataclass(frozen=True)
class X12Error:
    segment: str
    position: int | None
    line: int | None
    reason: str
    element: str | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            "field": self.element or self.segment,
            "segment": self.segment,
            "position": self.position,
            "line": self.line,
            "reason": self.reason,
        }


class X12Rejected(Invalid):
    """The file is refused whole: nothing of it was loaded."""

    def __init__(self, errors: list[X12Error], what: str = "the X12 file") -> None:
        first = errors[0]
        where = f"segment {first.segment}" + (f" at position {first.position}" if first.position else "")
        where += f", line {first.line}" if first.line else ""
        super().__init__(
            f"{what} is not valid ({len(errors)} errors; first: {where}: {first.reason}); nothing was loaded",
            detail=[e.as_detail() for e in errors],
        )
        self.errors = errors


def _values(seg: Any) -> tuple[str, ...]:
    """Element values as written (a composite keeps its component separators); cheaper than
    pyx12's path-parsing `get_value`, which the hot 834 path would call a million times."""
    return tuple(composite.format(seg.subele_term) for composite in seg.elements)


def redact(reason: str, value: Any) -> str:
    if isinstance(value, str) and value:
        reason = reason.replace(value, "...")
    return " ".join(reason.split())


def _errors(report: dict[str, Any]) -> Iterator[X12Error]:
    """Flatten pyx12's error tree (interchange / group / transaction / segment / element)."""
    for isa in report.get("interchanges", []):
        for e in isa["errors"]:
            yield X12Error("ISA", None, isa["cur_line"], redact(e["err_str"], None))
        for gs in isa["groups"]:
            for e in gs["errors"]:
                yield X12Error("GS", None, gs["cur_line"], redact(e["err_str"], None))
            for st in gs["transactions"]:
                for e in st["errors"]:
                    yield X12Error("SE", None, st["cur_line"], redact(e["err_str"], None))
                for seg in st["segments"]:
                    where = (seg["seg_id"], seg["seg_count"], seg["cur_line"])
                    for e in seg["errors"]:
                        yield X12Error(*where, redact(e["err_str"], e.get("err_val")))
                    for ele in seg["elements"]:
                        name = f"{seg['seg_id']}{ele['ele_pos']:02d}"
                        for e in ele["errors"]:
                            yield X12Error(*where, redact(e["err_str"], e.get("err_val")), element=name)


def read_validated(text: str, *, what: str = "the X12 file") -> list[X12Segment]:
    """Every segment of a valid interchange, or `X12Rejected` naming every problem pyx12 found."""
    segments: list[X12Segment] = []

    def keep(seg: Any, src: Any, node: Any, valid: bool) -> None:
        loop = node.get_parent().id if node is not None else ""
        segments.append(
            X12Segment(seg.seg_id or "", loop, src.get_seg_count(), src.get_cur_line(), _values(seg))
        )

    report = io.StringIO()
    try:
        valid = pyx12.x12n_document.x12n_document(
            pyx12.params.params(), io.StringIO(text), None, None, None, report, callback=keep
        )
    except pyx12.errors.EngineError as unsupported:
        raise X12Rejected([X12Error("GS", None, None, redact(str(unsupported), None))], what) from None
    except (pyx12.errors.X12Error, IndexError, ValueError, AttributeError, TypeError):
        # pyx12 gives up on text whose envelope it cannot read at all.
        raise X12Rejected(
            [
                X12Error(
                    "ISA", 1, 1, "the body is not an X12 interchange (it must start with a 106-character ISA)"
                )
            ],
            what,
        ) from None
    if not report.getvalue():
        raise X12Rejected(
            [
                X12Error(
                    "ISA", 1, 1, "the body is not an X12 interchange (it must start with a 106-character ISA)"
                )
            ],
            what,
        )
    errors = sorted(_errors(json.loads(report.getvalue())), key=lambda e: e.line or 0)
    if errors or not valid:
        raise X12Rejected(errors or [X12Error("ISA", None, None, "pyx12 rejected the interchange")], what)
    return segments


def read_envelope_checked(text: str, *, what: str = "the X12 file") -> list[X12Segment]:
    """Segments of an interchange whose envelope pyx12 accepts (ISA/IEA, GS/GE, ST/SE counts and
    control numbers, segment syntax), for transactions pyx12 ships no implementation map for.
    The caller checks the segments it reads."""
    segments: list[X12Segment] = []
    errors: list[X12Error] = []
    try:
        src = pyx12.x12file.X12Reader(io.StringIO(text))
        for seg in src:
            seg_id = seg.seg_id or ""
            segments.append(X12Segment(seg_id, "", src.get_seg_count(), src.get_cur_line(), _values(seg)))
            errors += _reader_errors(src, seg_id)
        src.cleanup()
        errors += _reader_errors(src, "IEA")
    except (pyx12.errors.X12Error, IndexError, ValueError, AttributeError, TypeError):
        raise X12Rejected([NOT_X12], what) from None
    if errors:
        raise X12Rejected(errors, what)
    return segments


NOT_X12 = X12Error("ISA", 1, 1, "the body is not an X12 interchange (it must start with a 106-character ISA)")


def _reader_errors(src: Any, seg_id: str) -> list[X12Error]:
    found = []
    for _kind, _code, reason, value, line in src.pop_errors():
        found.append(X12Error(seg_id, src.get_seg_count() or None, line, redact(reason, value)))
    return found
