"""`POST /referrals/import`: a referral list in one request, imported through the same set-based
intake as single referrals (linking to open referrals, one transaction per chunk)."""

from typing import Any

from fastapi import APIRouter, Request

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_platform.db import current_trace
from hearth_platform.errors import HearthError, Invalid

from . import handlers
from .api import ReferralIn
from .bulk_import import parse_referral_list

router = APIRouter(tags=["referrals"])

CHUNK = 1000
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
        }
    },
)
async def import_referrals(request: Request, db: DatabaseDep, caller: CallerDep) -> dict[str, Any]:
    """Import a referral list (CSV with a header row, or NDJSON, one referral per line). Good lines
    are imported, bad ones reported with their line number; a member with an open referral is
    linked to it, not referred twice. The caller's organization is recorded as the referrer of
    every line (an ACO or care manager may refer any member) and keeps seeing those referrals."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(LIST_TYPES):
        raise UnsupportedList(f"send the list as {' or '.join(LIST_TYPES)}")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the list is not UTF-8 text") from None
    parsed = parse_referral_list(text, content_type, ReferralIn)
    trace = current_trace.get()
    created = linked = 0
    for start in range(0, len(parsed.good), CHUNK):
        commands = [
            handlers.ReceiveReferral(
                **referral.model_dump(),  # type: ignore[attr-defined]
                actor=referral.referrer_id,  # type: ignore[attr-defined]
                trace=trace,
                referrer_org_id=caller.org,
            )
            for _, referral in parsed.good[start : start + CHUNK]
        ]
        async with db.unit_of_work(trace) as uow:
            intakes = await handlers.receive_referrals(uow, commands)
            await uow.commit()
        created += sum(i.created for i in intakes)
        linked += sum(not i.created for i in intakes)
    return {
        "lines": len(parsed.good) + len({e.line for e in parsed.errors}),
        "imported": created,
        "linked_to_open_referral": linked,
        "errors": [{"line": e.line, "field": e.field, "reason": e.reason} for e in parsed.errors],
    }
