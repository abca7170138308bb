"""`POST /referrals/import`: a referral list in one request, COPYed in and received through the
same set-based intake statement as single referrals, in one transaction (all or nothing)."""

from typing import Any

from fastapi import APIRouter, Request

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_platform.db import current_trace
from hearth_platform.errors import HearthError, Invalid

from .access import scoped_key
from .api import IDEMPOTENCY_KEY, ReferralIn, idempotency_key
from .bulk_import import collector_paused, parse_referral_list
from .intake import claim_list_key, keep_list_answer, list_answer, receive_list

router = APIRouter(tags=["referrals"])

LIST_TYPES = ("text/csv", "application/x-ndjson")


class UnsupportedList(HearthError):
    status_code = 415
    code = "unsupported_media_type"


@router.post(
    "/referrals/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        "parameters": [IDEMPOTENCY_KEY],
    },
)
async def import_referrals(request: Request, db: DatabaseDep, caller: CallerDep) -> dict[str, Any]:
    """Import a referral list (CSV with a header row, or NDJSON, one referral per line). Good lines
    are imported, bad ones reported with their line number; a member with an open referral is
    linked to it, not referred twice; a retry with the same `Idempotency-Key` answers what the
    first import answered and imports nothing again. The caller's organization is recorded as the
    referrer of every line (an ACO or care manager may refer any member) and keeps seeing those
    referrals."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(LIST_TYPES):
        raise UnsupportedList(f"send the list as {' or '.join(LIST_TYPES)}")
    key = scoped_key(caller, idempotency_key(request))
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the list is not UTF-8 text") from None
    with collector_paused():
        parsed = parse_referral_list(text, content_type, ReferralIn)
    async with db.unit_of_work() as uow:
        if key is not None and not await claim_list_key(uow, key):
            # Imported before with this key (a concurrent retry waited for it): answer the same.
            return await list_answer(uow, key)
        intake = await receive_list(uow, parsed.good, referrer_org_id=caller.org, trace=current_trace.get())
        answer = {
            "lines": len(parsed.good) + len({e.line for e in parsed.errors}),
            "imported": intake.created,
            "linked_to_open_referral": intake.linked,
            "errors": [{"line": e.line, "field": e.field, "reason": e.reason} for e in parsed.errors],
        }
        if key is not None:
            await keep_list_answer(uow, key, answer)
        await uow.commit()
    return answer
