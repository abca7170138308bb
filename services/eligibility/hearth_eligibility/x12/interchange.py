"""Writing X12 interchanges: the ISA/GS/ST envelope with its control numbers and counts.

Segments are written one per line (`~` then a newline), the way most trading partners send them,
so a validator's line number and segment number point at the same place. Separators are the
5010 defaults: `*` between elements, `:` between components, `^` between repetitions.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
TERMINATOR = "~"

Segment = Sequence[str]


@dataclass(frozen=True)
class Party:
    """An interchange sender or receiver: ID qualifier (ZZ = mutually defined) and ID."""

    id: str
    qualifier: str = "ZZ"


def segment(*elements: str) -> str:
    """One segment with its trailing empty elements dropped, as the standard requires."""
    fields = list(elements)
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return ELEMENT.join(fields) + TERMINATOR


def interchange(
    *,
    sender: Party,
    receiver: Party,
    functional_id: str,
    version: str,
    transaction_set: str,
    body: Sequence[Segment],
    control_number: int,
    at: datetime,
    version_number: str = "00501",
    production: bool = False,
) -> str:
    """A complete interchange holding one functional group with one transaction set.

    `body` is the transaction set's segments between ST and SE; SE01 counts them plus ST and SE.
    """
    isa = segment(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        sender.qualifier,
        sender.id.ljust(15),
        receiver.qualifier,
        receiver.id.ljust(15),
        at.strftime("%y%m%d"),
        at.strftime("%H%M"),
        REPETITION if version_number == "00501" else "U",
        version_number,
        f"{control_number:09d}",
        "0",
        "P" if production else "T",
        COMPONENT,
    )
    st_control = f"{control_number % 10000:04d}"
    lines = [
        isa,
        segment(
            "GS",
            functional_id,
            sender.id,
            receiver.id,
            at.strftime("%Y%m%d"),
            at.strftime("%H%M"),
            str(control_number),
            "X",
            version,
        ),
        segment("ST", transaction_set, st_control, version if version_number == "00501" else ""),
        *(segment(*s) for s in body),
        segment("SE", str(len(body) + 2), st_control),
        segment("GE", "1", str(control_number)),
        segment("IEA", "1", f"{control_number:09d}"),
    ]
    return "\n".join(lines) + "\n"
