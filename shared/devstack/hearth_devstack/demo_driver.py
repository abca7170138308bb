"""The demo's six months, driven through the services' public APIs and topics only.

Before the first month the plan loads its coverage roster (`POST /coverage/import`). Then each
month, in the order a health plan lives it:
1. the monthly claims file arrives (`POST /claims/import`, service dates up to last month, scored
   as of the 10th): case-finding refers its candidates (source `algorithm`);
2. people refer: EHRs post FHIR ServiceRequests, the ACO and the plan's care managers upload lists
   (`POST /referrals/import`); eligibility checks coverage on each;
3. the quarterback gives up on the members it cannot reach and the providers assess the others
   (mixed findings and decisions, in person or by video/phone); billing accrues the fees,
   eligibility enrols and tiers;
4. enrolments end (death, hospice, goals met), some reported a month late; in the fourth month a
   few members lose coverage retroactively (a superseding coverage span);
5. providers report visits (telehealth included) and surveys to quality, and the plan streams the
   enrolled members' claim lines on `claims.lines`;
6. once billing has seen all of it, the month is closed (`POST /months/{m}/close`), and quality
   scores it on `MonthClosed`.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson
from tqdm import tqdm

from hearth_devstack.demo_api import Api, bounded
from hearth_devstack.demo_calendar import Month
from hearth_devstack.demo_care import (
    CLOSE_REASON,
    Assessment,
    PlannedReferral,
    assessment_for,
    ending_in,
    referrals_in,
    survey_for,
    visits_in,
)
from hearth_devstack.demo_intake import referral_line, service_request
from hearth_devstack.demo_population import Member, claims_csv, claims_of, roster_csv
from hearth_devstack.demo_tap import Tap
from hearth_schemas.claims import ClaimLineReceived

WAIT_S = 300
#: Seconds without a new decision after which the ones still missing are taken as not coming.
QUIET_S = 10
DUPLICATE_REASON = "duplicate_referral"


@dataclass
class Run:
    run: str
    seed: int
    window: list[Month]
    members: list[Member]
    today: date
    progress: bool = True
    by_id: dict[str, Member] = field(default_factory=dict)
    referred: set[str] = field(default_factory=set)
    known_referrals: set[str] = field(default_factory=set)
    pending: list[tuple[str, Member, Assessment]] = field(default_factory=list)
    assessed: set[str] = field(default_factory=set)
    enrolled: dict[str, date] = field(default_factory=dict)  # member -> effective date
    ended: dict[str, date] = field(default_factory=dict)  # member -> first day not enrolled
    claims_paid: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (member, month)
    counts: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)  # time spent per step, all months
    changed: set[str] = field(default_factory=set)  # members whose enrolment changed this month
    algorithm_referrals: int = 0  # case-finding referrals the claims imports reported

    def __post_init__(self) -> None:
        self.by_id = {m.member_id: m for m in self.members}

    def bar(self, total: int, desc: str) -> tqdm:
        return tqdm(total=total, desc=desc, unit="req", leave=False, disable=not self.progress)


class Driver:
    def __init__(self, api: Api, tap: Tap, state: Run, publish: Any) -> None:
        self.api, self.tap, self.s, self.publish = api, tap, state, publish

    async def register_coordinators(self, orgs: list[str]) -> None:
        """Two care coordinators (quarterbacks) per provider organization."""
        await bounded(
            [
                self.api.send(
                    self.api.org(org),
                    "POST",
                    "referral",
                    "/coordinators",
                    json={"coordinator_id": f"{org}-cc{n}", "provider_org_id": org},
                )  # fmt: skip
                for org in orgs
                for n in (1, 2)
            ]
        )

    async def load_roster(self) -> None:
        body = roster_csv(self.s.members, self.s.window)
        await self.api.send(
            self.api.plan(), "POST", "eligibility", "/coverage/import", retry_errors=True,
            content=body.encode(), headers={"content-type": "text/csv"},
        )  # fmt: skip
        self.s.counts["roster lines"] = body.count("\n") - 1

    async def month(self, number: int, month: Month, bar: tqdm) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("claims import and case-finding", lambda: self._claims_file(number, month)),
            ("referrals (FHIR, lists)", lambda: self._people_refer(number, month)),
            ("coverage checks and quarterback", lambda: self._triage(number)),
            ("assessments and enrolment", lambda: self._assess_until(month)),
            ("disenrolments and coverage changes", lambda: self._endings(number, month)),
            ("visits and surveys", lambda: self._care(month)),
            ("claims stream", lambda: self._stream_claims(number, month)),
            ("billing catching up", lambda: self._settle_ledgers(month)),
            (
                "month close",
                lambda: self.api.send(
                    self.api.plan(), "POST", "billing", f"/months/{month}/close", retry_errors=True
                ),
            ),
        ]
        for name, step in steps:
            bar.set_postfix_str(f"{month}: {name}")
            started = time.monotonic()
            await step()
            self.s.seconds[name] += time.monotonic() - started

    # --- referrals --------------------------------------------------------------------------
    async def _claims_file(self, number: int, month: Month) -> None:
        service_months = [month.plus(-k) for k in range(7, 0, -1)] if number == 0 else [month.plus(-1)]
        if number == len(self.s.window) - 1:
            service_months.append(month)
        lines: list[ClaimLineReceived] = []
        for service_month in service_months:
            offset = self.s.window.index(service_month) if service_month in self.s.window else 0
            for m in self.s.members:
                found = claims_of(m, service_month, offset, self.s.seed)
                lines += found
                for c in found:
                    key = (c.member_id, str(service_month))
                    self.s.claims_paid[key] = self.s.claims_paid.get(key, Decimal(0)) + Decimal(c.paid_amount)
        as_of = month.first_day + timedelta(days=9)
        answer = await self.api.send(
            self.api.plan(), "POST", "referral", f"/claims/import?as_of={as_of}", retry_errors=True,
            content=claims_csv(lines).encode(), headers={"content-type": "text/csv"},
        )  # fmt: skip
        body = answer.json()
        if body["rejected"]:
            raise RuntimeError(
                f"demo: the claims file had {body['rejected']} refused lines: {body['errors'][:3]}"
            )
        self.s.counts["claim lines"] += body["lines"]
        self.s.counts["algorithm referrals"] += body["referred"]
        self.s.algorithm_referrals += body["referred"]

    async def _people_refer(self, number: int, month: Month) -> None:
        planned = [
            p
            for p in referrals_in(self.s.members, month, number, self.s.seed)
            if p.member.member_id not in self.s.referred
        ]
        self.s.referred.update(p.member.member_id for p in planned)
        ehr = [p for p in planned if p.source == "ehr"]
        with self.s.bar(len(ehr), f"{month} EHR referrals (FHIR)") as bar:
            await bounded([self._fhir_referral(p) for p in ehr], bar)
        for source, who, org_type in (
            ("aco", f"demo-{self.s.run}-aco", "aco"),
            ("care_manager", "care-managers", "plan"),
        ):
            lines = [p for p in planned if p.source == source]
            if not lines:
                continue
            client = self.api.client(who, "plan" if org_type == "plan" else who, org_type)
            text = "\n".join(orjson.dumps(referral_line(p, who)).decode() for p in lines) + "\n"
            answer = await self.api.send(
                client, "POST", "referral", "/referrals/import", retry_errors=True,
                content=text.encode(),
                headers={"content-type": "application/x-ndjson", "idempotency-key": f"{self.s.run}-{source}-{month}"},
            )  # fmt: skip
            if answer.json()["errors"]:
                raise RuntimeError(
                    f"demo: the {source} list was refused in part: {answer.json()['errors'][:3]}"
                )
        self.s.counts["people referrals"] += len(planned)

    async def _fhir_referral(self, p: PlannedReferral) -> None:
        ehr = f"demo-{self.s.run}-ehr-{p.member.index % 2 + 1}"
        await self.api.send(
            self.api.org(ehr), "POST", "referral", "/fhir/ServiceRequest",
            content=orjson.dumps(service_request(p, p.member.index)),
            headers={"content-type": "application/fhir+json"},
        )  # fmt: skip

    async def _triage(self, number: int) -> None:
        """Waits for every new referral and its coverage decision; plans each one's path."""
        members = self.s.by_id

        def new_referrals() -> list[dict[str, Any]]:
            return [
                e
                for e in self.tap.events("ReferralReceived")
                if e["referral_id"] not in self.s.known_referrals
            ]

        def arrived() -> bool:
            """A person's referral makes a referral, or is linked to the member's open one (made
            earlier, so already seen); case-finding's count comes from its imports."""
            events = self.tap.events("ReferralReceived")
            referred = {e["member_id"] for e in events}
            algorithm = sum(e["source"] == "algorithm" for e in events)
            return self.s.referred <= referred and algorithm >= self.s.algorithm_referrals

        await self.tap.wait(arrived, "referrals on referral.events", WAIT_S)
        fresh = new_referrals()
        ids = {e["referral_id"] for e in fresh}

        def decided() -> dict[str, dict[str, Any]] | None:
            found = {
                e["referral_id"]: e
                for e in self.tap.events("EligibilityDetermined")
                if e["stage"] == "coverage" and e.get("referral_id") in ids
            }
            return found if len(found) == len(ids) else None

        decisions = await self.tap.wait(decided, "coverage decisions", WAIT_S) if ids else {}
        paths = []
        for e in fresh:
            self.s.known_referrals.add(e["referral_id"])
            self.s.counts[f"referrals {e['source']}"] += 1
            if not decisions[e["referral_id"]]["eligible"]:
                continue
            member = members[e["member_id"]]
            if member.member_id in self.s.enrolled and member.member_id not in self.s.ended:
                paths.append(self._close_duplicate(e["referral_id"], member))
                continue
            plan = assessment_for(
                member, date.fromisoformat(e["referral_date"]), e["source"], self.s.seed, number
            )
            paths.append(self._quarterback(e["referral_id"], member, plan, e.get("provider_org_id")))
        with self.s.bar(len(paths), "quarterback: triage, outreach, schedule") as bar:
            await bounded(paths, bar)

    async def _close_duplicate(self, referral_id: str, member: Member) -> None:
        """A referral of a member the program already serves: the coordinator closes it."""
        close = {"actor": f"{member.provider_org_id}-cc1", "outcome": "closed", "reason": DUPLICATE_REASON}
        await self.api.send(
            self.api.plan(), "POST", "referral", f"/referrals/{referral_id}/close", json=close
        )
        self.s.counts["referrals of enrolled members closed as duplicates"] += 1

    async def _quarterback(self, referral_id: str, member: Member, plan: Assessment, org: str | None) -> None:
        """The organization's coordinator takes the referral and reaches out; a member who
        cannot be reached is closed as such, the others get an assessment booked. A referral
        that names no organization (case-finding's) is handed to the member's by the plan."""
        client, path = self.api.org(member.provider_org_id), f"/referrals/{referral_id}"
        coordinator = f"{member.provider_org_id}-cc{member.index % 2 + 1}"
        triage = {
            "actor": coordinator,
            "coordinator_id": coordinator,
            "provider_org_id": member.provider_org_id,
        }
        triaging = client if org == member.provider_org_id else self.api.plan()
        await self.api.send(triaging, "POST", "referral", f"{path}/triage", json=triage)
        await self.api.send(client, "POST", "referral", f"{path}/outreach", json={"actor": coordinator})
        if not plan.reached:
            close = {"actor": coordinator, "outcome": "unable_to_reach", "reason": CLOSE_REASON}
            await self.api.send(client, "POST", "referral", f"{path}/close", json=close)
            return
        booking = {"actor": coordinator, "scheduled_for": plan.body["assessed_on"], "mode": plan.body["mode"]}
        await self.api.send(client, "POST", "referral", f"{path}/schedule", json=booking)
        self.s.pending.append((referral_id, member, plan))

    async def _assess_until(self, month: Month) -> None:
        due = [
            p
            for p in self.s.pending
            if date.fromisoformat(p[2].body["assessed_on"]) <= min(month.last_day, self.s.today)
        ]
        self.s.pending = [p for p in self.s.pending if p not in due]
        with self.s.bar(len(due), f"{month} assessments") as bar:
            await bounded(
                [
                    self.api.send(
                        self.api.org(m.provider_org_id),
                        "POST",
                        "referral",
                        f"/referrals/{rid}/assessment",
                        json=a.body,
                    )
                    for rid, m, a in due
                ],
                bar,
            )
        self.s.assessed.update(rid for rid, _, _ in due)
        ids = set(self.s.assessed)

        def paid() -> bool:
            return len(self.tap.events("AssessmentFeeAccrued")) >= len(ids)

        def decided() -> bool:
            closed = {e["referral_id"] for e in self.tap.events("ReferralClosed")}
            return ids <= closed or self.tap.quiet(("ReferralClosed", "MemberEnrolled"), QUIET_S)

        await self.tap.wait(paid, "assessment fees on billing.events", WAIT_S)
        await self.tap.wait(decided, "assessed referrals to close", WAIT_S)
        closed = {e["referral_id"] for e in self.tap.events("ReferralClosed")}
        self.s.counts["assessed referrals the services left open"] = len(ids - closed)
        for e in self.tap.events("MemberEnrolled"):
            self.s.enrolled.setdefault(e["member_id"], date.fromisoformat(e["effective_date"]))

    # --- enrolment, care --------------------------------------------------------------------
    async def _endings(self, number: int, month: Month) -> None:
        """Disenrolments of this month (or reported late, effective last month), and in the
        fourth month retroactive coverage losses; notes the members whose ledger changes."""
        jobs, changed = [], set()
        for member_id, since in sorted(self.s.enrolled.items()):
            if member_id in self.s.ended or since >= month.first_day:
                continue
            member = self.s.by_id[member_id]
            if number == 3 and member.index % 29 == 0 and since <= month.plus(-2).last_day:
                jobs.append(self._lose_coverage(member, month))
                self.s.ended[member_id] = month.plus(-1).first_day
            elif ending := ending_in(member, month, number, self.s.seed):
                effective = ending.effective_date
                if ending.reported_late and number > 0:
                    effective = max(
                        since + timedelta(days=1), effective - timedelta(days=month.plus(-1).days)
                    )
                jobs.append(self._disenrol(member, ending.reason, effective))
                self.s.ended[member_id] = effective
                self.s.counts[f"disenrolled {ending.reason}"] += 1
            else:
                continue
            changed.add(member_id)
        await bounded(jobs)
        return changed | {
            m for m, since in self.s.enrolled.items() if month.first_day <= since <= month.last_day
        }

    async def _disenrol(self, member: Member, reason: str, effective: date) -> None:
        await self.api.send(
            self.api.org(member.provider_org_id), "POST", "eligibility", f"/members/{member.member_id}/disenrol",
            json={"reason": reason, "effective_date": effective.isoformat()}, expect=(200, 409),
        )  # fmt: skip

    async def _lose_coverage(self, member: Member, month: Month) -> None:
        """The plan learns late that the member's coverage ended two months ago."""
        plan = self.api.plan()
        span = (
            await self.api.send(plan, "GET", "eligibility", f"/members/{member.member_id}/coverage")
        ).json()
        replacement = {
            k: span[k]
            for k in ("plan_id", "line_of_business", "market", "aco_id", "provider_org_id", "start_date")
        }
        replacement |= {
            "end_date": month.plus(-2).last_day.isoformat(),
            "supersedes_span_id": span["span_id"],
        }
        await self.api.send(
            plan, "POST", "eligibility", f"/members/{member.member_id}/coverage", json=replacement
        )
        await self._disenrol(member, "coverage_lost", month.plus(-1).first_day)
        self.s.counts["retroactive coverage losses"] += 1

    def _enrolled_days(self, member_id: str, month: Month) -> tuple[date, date] | None:
        since = self.s.enrolled[member_id]
        until = self.s.ended.get(member_id)
        first = max(since, month.first_day)
        last = min(month.last_day, self.s.today, (until - timedelta(days=1)) if until else month.last_day)
        return (first, last) if first <= last else None

    async def _care(self, month: Month) -> None:
        reports: list[tuple[str, dict[str, Any]]] = []
        for member_id in sorted(self.s.enrolled):
            days = self._enrolled_days(member_id, month)
            if days is None:
                continue
            member = self.s.by_id[member_id]
            reports += [("/visits", v) for v in visits_in(member, month, *days, self.s.seed)]
            if Month.of(self.s.enrolled[member_id]) == month.plus(-1):
                if survey := survey_for(member, month, days[0] + (days[1] - days[0]) / 2, self.s.seed):
                    reports.append(("/surveys", survey))
        with self.s.bar(len(reports), f"{month} visits and surveys") as bar:
            await bounded([self._report(path, body) for path, body in reports], bar)
        self.s.counts["visits"] += sum(path == "/visits" for path, _ in reports)
        self.s.counts["surveys"] += sum(path == "/surveys" for path, _ in reports)

    async def _report(self, path: str, body: dict[str, Any]) -> None:
        """Quality learns of an enrolment from the topic: a report that arrives first is refused
        (422, member not enrolled), and is sent again shortly, as a provider's system would."""
        client = self.api.org(body["provider_org_id"])
        for _ in range(120):
            answer = await self.api.send(client, "POST", "quality", path, json=body, expect=(201, 422))
            if answer.status_code == 201:
                return
            self.s.counts["reports sent again"] += 1
            await asyncio.sleep(0.5)
        raise RuntimeError(f"demo: quality kept refusing a report: {answer.text[:300]}")

    async def _stream_claims(self, number: int, month: Month) -> None:
        """The plan's data platform streams the enrolled members' claim lines to `claims.lines`."""
        lines = [
            c
            for member_id in sorted(self.s.enrolled)
            if self._enrolled_days(member_id, month)
            for c in claims_of(self.s.by_id[member_id], month, number, self.s.seed)
        ]
        await self.publish(lines)
        self.s.counts["claim lines streamed"] += len(lines)

    async def _settle_ledgers(self, month: Month) -> None:
        """Billing has seen every enrolment and disenrolment of the month (its ledger shows
        them) before the month is closed."""

        async def seen(member_id: str) -> None:
            for _ in range(WAIT_S * 4):
                ledger = (
                    await self.api.send(self.api.plan(), "GET", "billing", f"/members/{member_id}/ledger")
                ).json()
                spans = ledger["enrolment_spans"]
                ended = self.s.ended.get(member_id)
                if spans and (
                    ended is None or any(s["to"] == (ended - timedelta(days=1)).isoformat() for s in spans)
                ):
                    return
                await asyncio.sleep(0.25)
            raise TimeoutError(f"demo: billing's ledger never showed member {member_id}'s enrolment")

        await bounded([seen(m) for m in sorted(self.s.changed)])
