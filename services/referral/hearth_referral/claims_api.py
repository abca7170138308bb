"""`POST /claims/import`: a claims file (CSV, layout in claims_layout.py) streamed straight into
Postgres with COPY, then case-finding over the members it touched; `GET /referrals/{id}/evidence`:
why case-finding referred a member."""

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep, Forbidden
from hearth_platform.db import current_trace
from hearth_platform.errors import Invalid

from . import claims
from .access import require_sight
from .api import ReferralId
from .claims_layout import CLAIM_CSV_COLUMNS, REQUIRED_CLAIM_COLUMNS
from .import_api import UnsupportedList

router = APIRouter(tags=["case-finding"])
MAX_HEADER = 4096


async def _split_header(request: Request) -> tuple[list[str], AsyncIterator[bytes]]:
    """The header row's column names, and the rest of the body as it arrives."""
    stream = request.stream()
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        if b"\n" in buffer or len(buffer) > MAX_HEADER:
            break
    header, _, rest = buffer.partition(b"\n")
    try:
        columns = [c.strip() for c in header.decode("utf-8").strip().split(",")]
    except UnicodeDecodeError:
        raise Invalid("the claims file is not UTF-8 text") from None
    unknown = [c for c in columns if c not in CLAIM_CSV_COLUMNS]
    missing = [c for c in REQUIRED_CLAIM_COLUMNS if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns) or len(header) > MAX_HEADER:
        raise Invalid(
            "the header row does not match the claims layout",
            detail=[{"field": f"header.{c}", "reason": "unknown column"} for c in unknown[:20]]
            + [{"field": f"header.{c}", "reason": "required column missing"} for c in missing]
            + (
                [{"field": "header", "reason": "a column is repeated"}]
                if len(set(columns)) != len(columns)
                else []
            ),
        )

    async def body() -> AsyncIterator[bytes]:
        if rest:
            yield rest
        async for chunk in stream:
            yield chunk

    return columns, body()


@router.post(
    "/claims/import",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_claims(
    request: Request,
    db: DatabaseDep,
    caller: CallerDep,
    as_of: Annotated[
        date | None, Query(description="The day case-finding scores for (default today): the window's end.")
    ] = None,
) -> dict[str, Any]:
    """Import claim lines (CSV with a header row; send large files chunked) in one transaction:
    bad lines are counted and the first 100 reported by line number; the members touched are
    scored and candidates referred (source `algorithm`). Plan-only: claims are the plan's."""
    if not caller.is_plan:
        raise Forbidden("importing claims is for the plan only")
    if not request.headers.get("content-type", "").startswith("text/csv"):
        raise UnsupportedList("send the claims file as text/csv")
    columns, body = await _split_header(request)
    return await claims.import_claims(db, columns, body, as_of or date.today(), trace=current_trace.get())


@router.get(
    "/referrals/{referral_id}/evidence", responses={404: {"description": "Not a case-finding referral."}}
)
async def get_evidence(referral_id: ReferralId, db: DatabaseDep, caller: CallerDep) -> dict[str, Any]:
    """Why case-finding referred this member: the rule set version, the score and each rule's
    points, and the claims behind it (ids, codes, service dates) with their age; for the
    organizations that see the referral."""
    await require_sight(db, caller, referral_id)
    return await claims.evidence_of(db, referral_id, date.today())
