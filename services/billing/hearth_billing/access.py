"""Who may see what in billing, by organization (the token's `org` and `org_type`):

- the plan sees everything and alone closes months and reads month summaries (plan-wide totals);
- a provider organization sees its own invoices (and their CSV, 820 and MeasureReport), its own
  lines of a member's ledger and its own DME requests; another organization's invoice or request
  answers 404, as if it did not exist, and lists leave it out;
- an ACO sees nothing: billing does not know which members are attributed to an ACO, so it cannot
  tell an ACO's members from others' (403).
"""

from typing import Any

from hearth_platform.auth import Forbidden, Principal
from hearth_platform.errors import NotFound


def plan_only(caller: Principal, what: str) -> None:
    if not caller.is_plan:
        raise Forbidden(f"{what} is for the plan only")


def no_aco(caller: Principal) -> None:
    if caller.org_type == "aco":
        raise Forbidden("billing does not know ACO attribution: its data is for the plan and providers")


def provider_filter(caller: Principal) -> str | None:
    """The organization a caller's lists are limited to (None for the plan)."""
    no_aco(caller)
    return None if caller.is_plan else caller.org


def visible_invoice(caller: Principal, invoice: dict[str, Any]) -> dict[str, Any]:
    no_aco(caller)
    if not caller.sees_org(invoice["provider_org_id"]):
        raise NotFound(f"invoice {invoice['invoice_id']} does not exist")
    return invoice
