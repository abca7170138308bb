"""Case-finding from claims: claim lines in (a CSV import or the `claims.lines` topic), the rolling
profile updated, members scored in SQL, and candidates referred with source `algorithm`, each
carrying the claims that made it one. Suppressed: members who died, are in hospice, already have an
open referral, or declined (or enrolled) recently. Claims only make candidates: a candidate is
enrolled only after an initial assessment, which the referral state machine enforces.
"""

from collections.abc import AsyncIterable, Sequence
from datetime import date
from typing import Any

from hearth_platform.db import Database, TraceContext, UnitOfWork
from hearth_platform.errors import NotFound
from hearth_schemas import ClaimEvidence

from . import intake
from .case_finding import CaseFindingRules, leading_condition, load_case_finding_rules
from .claims_repository import ClaimsRepository

RULES = load_case_finding_rules()
REFERRER = "case-finding"


async def find_cases(
    uow: UnitOfWork, repo: ClaimsRepository, as_of: date, *, trace: TraceContext | None = None, **scope: bool
) -> int:
    """Refer every member the rules flag today; returns how many were referred."""
    rules = repo.rules
    found = await repo.candidates(as_of, **scope)
    if not found:
        return 0
    evidence = await repo.evidence([c.member_id for c in found], as_of)
    commands = [
        intake.ReceiveReferral(
            member_id=c.member_id,
            source="algorithm",
            referrer_id=REFERRER,
            referral_date=as_of,
            provider_org_id=None,
            goals_of_care_discussed=None,
            actor=f"{REFERRER}/{rules.version}",
            trace=trace,
            condition_group=leading_condition(rules, list(c.conditions)),
            evidence=tuple(ClaimEvidence(**e) for e in evidence.get(c.member_id, [])),
            rule_set_version=rules.version,
        )
        for c in found
    ]
    intakes = await intake.receive_referrals(uow, commands)
    by_member = {c.member_id: c for c in found}
    await repo.add_findings(
        [
            {
                "referral_id": i.referral.referral_id,
                "member_id": i.referral.member_id,
                "rule_set_version": rules.version,
                "as_of": as_of,
                "score": by_member[i.referral.member_id].score,
                "threshold": rules.threshold,
                "condition_groups": list(by_member[i.referral.member_id].conditions),
                "explanation": by_member[i.referral.member_id].explanation,
                "evidence": [
                    {**e, "service_date": e["service_date"].isoformat()}
                    for e in evidence.get(i.referral.member_id, [])
                ],
            }
            for i in intakes
            if i.created
        ]
    )
    return sum(i.created for i in intakes)


async def import_claims(
    db: Database,
    columns: Sequence[str],
    body: AsyncIterable[bytes],
    as_of: date,
    *,
    trace: TraceContext | None = None,
    rules: CaseFindingRules = RULES,
) -> dict[str, Any]:
    """One transaction: COPY the file into staging, drop bad lines (reported), keep the signals,
    score the members the file touched and refer the candidates."""
    async with db.unit_of_work(trace) as uow:
        repo = ClaimsRepository(uow.conn, rules)
        await repo.create_staging()
        copied = await repo.copy_csv(columns, body)
        rejected, errors = await repo.reject_bad_lines()
        accepted = copied - rejected
        signals = await repo.keep_signals()
        referred = await find_cases(uow, repo, as_of, trace=trace)
        await uow.commit()
    return {
        "lines": accepted + rejected,
        "accepted": accepted,
        "rejected": rejected,
        "errors": errors,
        "signal_lines": signals,
        "referred": referred,
        "as_of": as_of,
        "rule_set_version": rules.version,
    }


async def evidence_of(db: Database, referral_id: str, today: date) -> dict[str, Any]:
    """Why case-finding referred this member: the rule set, the score and its parts, and each
    claim behind it with its age when the member was referred and today."""
    async with db.unit_of_work() as uow:
        row = await ClaimsRepository(uow.conn, RULES).finding(referral_id)
    if row is None:
        raise NotFound(f"referral {referral_id} was not made by case-finding (or does not exist)")
    evidence = []
    for e in row.evidence:
        served = date.fromisoformat(e["service_date"])
        evidence.append(
            {**e, "age_days_at_referral": (row.as_of - served).days, "age_days_today": (today - served).days}
        )
    ages = [e["age_days_at_referral"] for e in evidence]
    return {
        "referral_id": row.referral_id,
        "member_id": row.member_id,
        "rule_set_version": row.rule_set_version,
        "referred_on": row.as_of,
        "score": row.score,
        "threshold": row.threshold,
        "condition_groups": row.condition_groups,
        "explanation": row.explanation,
        "evidence": evidence,
        "newest_evidence_age_days": min(ages) if ages else None,
        "oldest_evidence_age_days": max(ages) if ages else None,
    }
