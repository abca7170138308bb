"""The load driver of the fault suite: members through the public APIs and topics, as the plan,
the referrers and the provider organizations would send them, and the record of what was accepted.

Every call is retried the way a careful client retries: a refused connection or a 5xx is tried
again (the request did nothing, or was made idempotent by the service), and a lost answer after the
request was sent is remembered as "ambiguous" so the invariants can allow for it. What the driver
produced is also its model of what billing must invoice (`expected_lines`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

import httpx

from hearth_schemas import AssessmentCompleted, ReferralReceived

from ..stack import Stack

# The default contract (services/billing/hearth_billing/contracts/default.toml, version 1): the
# findings below always make the member "moderate".
ASSESSMENT_FEE = Decimal("325.00")
PMPM = {"moderate": Decimal("400.00"), "high": Decimal("600.00")}
TIER = "moderate"
FINDINGS = {
    "mode": "in_person",
    "age_years": 81,
    "primary_condition": "chf",
    "nyha_class": 4,
    "ejection_fraction": 22,
    "karnofsky": 50,
    "surrogate_identified": True,
    "surrogate_relationship": "child",
}
DRIVER_SOURCE = "/faults/driver"

Route = Literal["api", "import", "topics"]


class GaveUp(AssertionError):
    """A call still failed when its deadline passed: the service did not recover."""


@dataclass
class Member:
    member_id: str
    org: str
    month: str
    decision: Literal["enrol", "decline"]
    route: Route
    assessed_on: date
    referral_id: str | None = None
    referral_accepted: bool = False
    assessed: bool = False
    visits_accepted: int = 0
    visits_ambiguous: int = 0

    @property
    def enrols(self) -> bool:
        return self.assessed and self.decision == "enrol"


@dataclass
class Load:
    """One test's load: its organization, month and members, and how the calls went."""

    org: str
    month: str
    members: list[Member] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    # 5xx answers by status ("503 without Retry-After" when the retry hint is missing).
    server_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class Driver:
    def __init__(self, stack: Stack, http: httpx.AsyncClient, deadline_s: float) -> None:
        self.stack = stack
        self.http = http
        self.deadline_s = deadline_s
        self.loads: list[Load] = []
        self._visits: list[asyncio.Task[None]] = []

    @property
    def members(self) -> list[Member]:
        return [m for load in self.loads for m in load.members]

    def months(self) -> list[str]:
        return sorted({load.month for load in self.loads})

    # --- the load -----------------------------------------------------------------------------
    def next_month(self) -> str:
        """Each load bills its own month, in order from 2026-01, so months close in order."""
        return f"2026-{len(self.loads) + 1:02d}"

    async def run(
        self,
        count: int,
        *,
        waves_in_flight: int = 2,
        wave_interval_s: float = 0.0,
        topics_share: int = 0,
        until: asyncio.Event | None = None,
    ) -> Load:
        """At least `count` members referred in the next month for a new organization, and more
        until `until` is set (so the load lasts as long as the fault). Members come in waves of
        five, at most one every `wave_interval_s`: one through the list import, the others by POST /referrals (the first `topics_share`
        straight onto the topics, assessment first); two in three enrol."""
        load = Load(org=f"org-{uuid.uuid4().hex[:8]}", month=self.next_month())
        self.loads.append(load)
        started = time.monotonic()
        gate = asyncio.Semaphore(waves_in_flight)
        waves: list[asyncio.Task[None]] = []

        async def wave(members: list[Member]) -> None:
            try:
                await self._wave(load, members)
            finally:
                gate.release()

        while len(load.members) < count or (until is not None and not until.is_set()):
            await gate.acquire()
            members = [self._new_member(load, len(load.members) + i, topics_share) for i in range(5)]
            load.members.extend(members)
            waves.append(asyncio.create_task(wave(members)))
            await asyncio.sleep(wave_interval_s)
        await asyncio.gather(*waves)
        await asyncio.gather(*self._visits)
        self._visits.clear()
        load.seconds = time.monotonic() - started
        return load

    def _new_member(self, load: Load, n: int, topics_share: int) -> Member:
        route: Route = "topics" if n < topics_share else ("import" if n % 5 == 4 else "api")
        member_id = f"M-{uuid.uuid4().hex[:12]}"
        day = 1 + int(member_id[-4:], 16) % 20
        return Member(
            member_id=member_id,
            org=load.org,
            month=load.month,
            decision="decline" if n % 3 == 2 else "enrol",
            route=route,
            assessed_on=date.fromisoformat(f"{load.month}-{day:02d}"),
        )

    async def _wave(self, load: Load, members: list[Member]) -> None:
        """Coverage first (eligibility checks it when the referral arrives), then the list import
        of the wave's imported members, then every member's journey side by side."""
        await asyncio.gather(*(self._coverage(load, m) for m in members))
        await self._import(load, [m for m in members if m.route == "import"])
        await asyncio.gather(*(self._journey(load, m) for m in members))

    async def _journey(self, load: Load, m: Member) -> None:
        if m.route == "topics":
            await self._through_topics(m)
            return
        await self._refer(load, m)
        await self._assess(load, m)
        if m.decision == "enrol":
            # The visit waits for the enrolment to reach quality (through the broker); the next
            # waves do not wait for it, as referrals do not wait for visits in life.
            self._visits.append(asyncio.create_task(self._visit(load, m)))

    async def _coverage(self, load: Load, m: Member) -> None:
        await self._call(
            load,
            "coverage",
            "POST",
            f"{self.stack.url('eligibility')}/members/{m.member_id}/coverage",
            ok={201, 409},  # 409: a lost answer's retry overlaps the span the first try recorded
            json={
                "plan_id": "plan-1",
                "line_of_business": "medi_cal",
                "market": "alameda",
                "provider_org_id": m.org,
                "start_date": "2025-01-01",
            },
        )

    def _referral_body(self, m: Member) -> dict[str, object]:
        return {
            "member_id": m.member_id,
            "source": "aco",
            "referrer_id": "aco-7",
            "referral_date": f"{m.month}-01",
            "provider_org_id": m.org,
            "goals_of_care_discussed": True,
        }

    async def _import(self, load: Load, members: list[Member]) -> None:
        if not members:
            return
        body = "\n".join(json.dumps(self._referral_body(m)) for m in members)
        response = await self._call(
            load,
            "import",
            "POST",
            f"{self.stack.url('referral')}/referrals/import",
            ok={200},
            content=body.encode(),
            headers={"content-type": "application/x-ndjson"},
        )
        assert response.json()["errors"] == [], response.text
        for m in members:
            m.referral_accepted = True

    async def _refer(self, load: Load, m: Member) -> None:
        """POST /referrals; for an imported member the same call links to the open referral (200)
        and names it, so the driver learns the id the import created."""
        response = await self._call(
            load,
            "referral",
            "POST",
            f"{self.stack.url('referral')}/referrals",
            ok={200, 201},
            json=self._referral_body(m),
            headers={"idempotency-key": f"faults-{m.member_id}"},
        )
        body = response.json()
        if m.route == "import":
            assert response.status_code == 200 and body["created"] is False, response.text
        m.referral_id = body["referral_id"]
        m.referral_accepted = True

    async def _assess(self, load: Load, m: Member) -> None:
        url = f"{self.stack.url('referral')}/referrals/{m.referral_id}/assessment"
        body = {
            **FINDINGS,
            "provider_org_id": m.org,
            "assessed_on": m.assessed_on.isoformat(),
            "decision": m.decision,
        }
        response = await self._call(load, "assessment", "POST", url, ok={201, 409}, json=body)
        if response.status_code == 409:
            # Only a retry of a request whose answer was lost may find the referral assessed.
            view = await self._call(
                load, "referral-view", "GET", f"{self.stack.url('referral')}/referrals/{m.referral_id}"
            )
            status = view.json()["status"]
            assert status in ("assessed", "enrolled", "declined"), (m.referral_id, response.text, status)
        m.assessed = True

    async def _visit(self, load: Load, m: Member) -> None:
        """A home visit three days after the assessment, once quality knows the enrolment (422
        until MemberEnrolled reached it)."""
        body = {
            "member_id": m.member_id,
            "provider_org_id": m.org,
            "visit_date": m.assessed_on.replace(day=m.assessed_on.day + 3).isoformat(),
            "discipline": "rn",
            "mode": "in_person",
            "minutes": 45,
        }
        url = f"{self.stack.url('quality')}/visits"
        deadline = time.monotonic() + self.deadline_s
        while True:
            try:
                response = await self.http.post(url, json=body)
            except httpx.ConnectError:
                response = None
            except httpx.TransportError:
                m.visits_ambiguous += 1  # sent, answer lost: it may have been recorded
                response = None
            if response is not None and response.status_code == 201:
                m.visits_accepted += 1
                return
            if response is not None and response.status_code not in (422,) and response.status_code < 500:
                raise AssertionError(f"visit refused: {response.status_code} {response.text}")
            if time.monotonic() > deadline:
                raise GaveUp(f"visit for {m.member_id}: {response.text if response else 'no answer'}")
            load.retries["visit"] += 1
            await asyncio.sleep(0.5)

    async def _through_topics(self, m: Member) -> None:
        """The reordering fault's members: their AssessmentCompleted is published before their
        ReferralReceived, as an outside producer would if it published out of order."""
        m.referral_id = str(uuid.uuid4())
        received = ReferralReceived(
            referral_id=m.referral_id,
            member_id=m.member_id,
            source="aco",
            referrer_id="aco-7",
            referral_date=date.fromisoformat(f"{m.month}-01"),
            received_at=datetime.now(UTC),
            provider_org_id=m.org,
            goals_of_care_discussed=True,
        )
        findings = {k: v for k, v in FINDINGS.items() if k != "surrogate_relationship"}
        assessed = AssessmentCompleted(
            assessment_id=str(uuid.uuid4()),
            referral_id=m.referral_id,
            member_id=m.member_id,
            provider_org_id=m.org,
            assessed_on=m.assessed_on,
            decision=m.decision,
            **findings,
        )
        await self.stack.publish(assessed, source=DRIVER_SOURCE)
        await asyncio.sleep(0.2)
        await self.stack.publish(received, source=DRIVER_SOURCE)
        m.referral_accepted = m.assessed = True

    # --- HTTP with a careful client's retries --------------------------------------------------
    async def _call(
        self,
        load: Load,
        what: str,
        method: str,
        url: str,
        *,
        ok: set[int] | None = None,
        **kwargs: object,
    ) -> httpx.Response:
        ok = ok or {200}
        deadline = time.monotonic() + self.deadline_s
        last = "no answer"
        while True:
            try:
                response = await self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                last = type(exc).__name__
            else:
                if response.status_code in ok:
                    return response
                if response.status_code < 500:
                    raise AssertionError(f"{what}: {method} {url} -> {response.status_code} {response.text}")
                last = f"{response.status_code} {response.text[:200]}"
                hint = response.status_code != 503 or "retry-after" in response.headers
                load.server_errors[f"{response.status_code}{'' if hint else ' without Retry-After'}"] += 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{what}: {method} {url} still failing after {self.deadline_s:.0f}s: {last}")
            load.retries[what] += 1
            await asyncio.sleep(0.25)

    # --- the model of what billing owes --------------------------------------------------------
    def expected_lines(self, org: str, month: str) -> list[tuple[str, str, Decimal]]:
        """(member, kind, amount) of `org`'s invoice for `month`: the fee of every assessment done
        in the month, and the full-month PMPM of every member enrolled on or before it."""
        lines: list[tuple[str, str, Decimal]] = []
        for m in self.members:
            if m.org != org or not m.assessed:
                continue
            if m.month == month:
                lines.append((m.member_id, "assessment_fee", ASSESSMENT_FEE))
            if m.enrols and m.month <= month:
                lines.append((m.member_id, "pmpm", PMPM[TIER]))
        return sorted(lines)
