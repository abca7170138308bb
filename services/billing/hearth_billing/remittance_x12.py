"""An invoice as an X12 5010 820 remittance (implementation guide 005010X218), the transaction a
plan sends a provider organization with a capitation payment: one interchange, one functional
group (RA), one transaction set.

Mapping (every amount is an invoice line amount, unchanged):
- BPR02 is the invoice total; TRN02 the invoice id (the trace a provider reconciles by); the
  coverage period (DTM 582) is the invoice's month.
- 1000A names the provider organization (the premium receiver), 1000B the plan (exports.toml).
- Lines of the whole invoice (withhold, earn-back, incentive) go in the organization summary
  (2000A ENT, one 2300A RMR per line); member lines (PMPM, fees, DME, adjustments) go per member
  (2000B ENT + NM1), one 2300B RMR per line with its own coverage period: the month, the adjusted
  month of an adjustment, the service date of a fee or DME.

The file is a function of the invoice alone (dates from its issue time, control numbers from its
id), so fetching it twice gives the same bytes. Delimiters: `*` element, `~` segment, `>`
component, `^` repetition; a value holding one of them has it replaced by `-`.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .exports import X12Settings
from .periods import Month

_DELIMITERS = re.compile(r"[*~>^\r\n]")
MEMBER_KINDS_PERIOD_OF_SERVICE_DATE = ("assessment_fee", "dme")


def _value(text: object) -> str:
    return _DELIMITERS.sub("-", str(text))


def _segment(*elements: object) -> str:
    values = ["" if e is None else _value(e) for e in elements]
    while values and values[-1] == "":
        values.pop()
    return "*".join(values) + "~"


def _amount(amount: Any) -> str:
    return format(Decimal(str(amount)).quantize(Decimal("0.01")), "f")


def _control_number(invoice_id: str) -> int:
    return int(hashlib.sha256(invoice_id.encode()).hexdigest(), 16) % 999_999_999 + 1


def _rd8(first: date, last: date) -> str:
    return f"{first:%Y%m%d}-{last:%Y%m%d}"


def _line_period(line: Mapping[str, Any], month: Month) -> str:
    if line["kind"] in MEMBER_KINDS_PERIOD_OF_SERVICE_DATE:
        day = line["service_date"]
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
        return _rd8(day, day)
    covered = Month.parse(line["adjusted_month"]) if line.get("adjusted_month") else month
    return _rd8(covered.first_day, covered.last_day)


def remittance_820(invoice: Mapping[str, Any], settings: X12Settings) -> str:
    """The invoice's 820, one segment a line."""
    month = Month.parse(invoice["month"])
    issued: datetime = invoice["issued_at"]
    control = _control_number(invoice["invoice_id"])
    receiver = _value(invoice["provider_org_id"])[:15]
    lines: Sequence[Mapping[str, Any]] = invoice["lines"]
    org_lines = [line for line in lines if line["member_id"] is None]
    members: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        if line["member_id"] is not None:
            members.setdefault(line["member_id"], []).append(line)

    body = [
        _segment("ST", "820", "0001", "005010X218"),
        _segment(
            "BPR",
            settings.transaction_handling,
            _amount(invoice["total_amount"]),
            "C",
            settings.payment_method,
            *[""] * 5,
            settings.payer_identifier,
            *[""] * 5,
            f"{issued:%Y%m%d}",
        ),
        _segment("TRN", "1", invoice["invoice_id"], settings.payer_identifier),
        _segment("DTM", "582", "", "", "", "RD8", _rd8(month.first_day, month.last_day)),
        _segment("N1", "PE", invoice["provider_org_id"]),
        _segment("N1", "PR", settings.payer_name, settings.payer_id_qualifier, settings.payer_id),
    ]
    number = 0
    if org_lines:
        number += 1
        body.append(_segment("ENT", number, "2L", "24", invoice["provider_org_id"]))
        for line in org_lines:
            body.append(_segment("RMR", "IK", invoice["invoice_id"], "", _amount(line["amount"])))
            body.append(_segment("DTM", "582", "", "", "", "RD8", _line_period(line, month)))
    for member_id, member_lines in members.items():
        number += 1
        body.append(_segment("ENT", number, "2J", "EI", member_id))
        body.append(_segment("NM1", "IL", "1", "", "", "", "", "", "N", member_id))
        for line in member_lines:
            body.append(_segment("RMR", "IK", invoice["invoice_id"], "", _amount(line["amount"])))
            body.append(_segment("DTM", "582", "", "", "", "RD8", _line_period(line, month)))
    body.append(_segment("SE", len(body) + 1, "0001"))
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*{settings.sender_qualifier}*{settings.sender_id[:15]:<15}"
        f"*{settings.receiver_qualifier}*{receiver:<15}*{issued:%y%m%d}*{issued:%H%M}*^*00501"
        f"*{control:09d}*0*{settings.usage_indicator}*>~"
    )
    gs = _segment(
        "GS",
        "RA",
        settings.sender_id,
        receiver,
        f"{issued:%Y%m%d}",
        f"{issued:%H%M}",
        control,
        "X",
        "005010X218",
    )
    trailer = [_segment("GE", "1", control), _segment("IEA", "1", f"{control:09d}")]
    return "\n".join([isa, gs, *body, *trailer]) + "\n"
