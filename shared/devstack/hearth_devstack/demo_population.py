"""The demo's synthetic population: members with the conditions, utilization and claims of a
health plan's seriously ill members (DOMAIN.md), and what happens to them month by month.

Deterministic: every draw comes from a random generator seeded with the run's seed, the member's
index and what is being drawn, so the same seed gives the same population and the same story
whatever order the services answer in. Only member and organization ids change from run to run
(they carry the run id, so a rerun against the same stack never collides). No names, no birth
dates: ids, codes, dates of service and structured findings only."""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hearth_devstack.demo_calendar import Month
from hearth_schemas.claims import ClaimLineReceived

#: Condition groups with their share of the population, ICD-10-CM codes (no dots) and how
#: quickly members with them decline. "none" is the rest of the plan.
CONDITIONS: dict[str, tuple[float, tuple[str, ...], float]] = {
    "chf": (0.035, ("I5022", "I5032", "I110", "I130"), 0.55),
    "copd": (0.035, ("J441", "J449", "J9611", "Z9981"), 0.5),
    "cancer": (0.03, ("C3490", "C787", "C799", "C189", "C250"), 0.65),
    "liver": (0.01, ("K7031", "K7460", "R188"), 0.5),
    "esrd": (0.015, ("N186", "I120"), 0.4),
    "dementia": (0.02, ("G309", "F0390"), 0.35),
    "parkinsons": (0.005, ("G20",), 0.3),
}
ROUTINE_CODES = ("I10", "E119", "E785", "M545", "Z0000")
ASSESSABLE = ("chf", "copd", "cancer", "liver")
LINES_OF_BUSINESS = (("medi_cal", 0.6), ("medicare_advantage", 0.3), ("d_snp", 0.1))
MARKETS = ("alameda", "fresno", "los_angeles", "san_diego")
ORGANIZATIONS = ("sunrise-hospice", "valley-home-health", "bayside-palliative", "golden-state-care")
#: How well each organization's members feel heard (top-box chance per survey item).
EXPERIENCE = (0.78, 0.62, 0.7, 0.55)
OXYGEN, HOSPITAL_BED = "E1390", "E0260"


@dataclass(frozen=True)
class Member:
    index: int
    member_id: str
    provider_org_id: str
    org_index: int
    aco_id: str | None
    line_of_business: str
    market: str
    condition: str
    frailty: float  # 0..1 at the start of the window; rises with the condition's pace
    age_years: int
    covered: bool  # on the plan's roster at all
    coverage_end: date | None  # coverage ended before the window (the member left the plan)


def rng(seed: int, index: int, what: str) -> random.Random:
    return random.Random(f"{seed}:{index}:{what}")


def population(size: int, seed: int, run: str, window: list[Month]) -> list[Member]:
    members = []
    conditions = list(CONDITIONS.items())
    for index in range(size):
        r = rng(seed, index, "member")
        draw, condition = r.random(), "none"
        for name, (share, _, _) in conditions:
            if draw < share:
                condition = name
                break
            draw -= share
        org_index = r.randrange(len(ORGANIZATIONS))
        lob = r.choices([lob for lob, _ in LINES_OF_BUSINESS], [w for _, w in LINES_OF_BUSINESS])[0]
        ended = r.random() < 0.02
        members.append(
            Member(
                index=index,
                member_id=f"D{run}-{index:06d}",
                provider_org_id=org_id(run, org_index),
                org_index=org_index,
                aco_id=f"demo-{run}-aco" if r.random() < 0.4 else None,
                line_of_business=lob,
                market=r.choice(MARKETS),
                condition=condition,
                frailty=r.betavariate(2, 5) if condition != "none" else r.betavariate(1, 12),
                age_years=r.randint(19, 95) if lob == "medi_cal" else r.randint(65, 98),
                covered=r.random() > 0.03,
                coverage_end=window[0].first_day - timedelta(days=r.randint(20, 200)) if ended else None,
            )
        )
    return members


def org_id(run: str, org_index: int) -> str:
    return f"demo-{run}-{ORGANIZATIONS[org_index]}"


def frailty_in(member: Member, month_number: int) -> float:
    """Frailty `month_number` months into the window: serious illness progresses."""
    pace = CONDITIONS[member.condition][2] if member.condition in CONDITIONS else 0.0
    return min(1.0, member.frailty + 0.04 * pace * month_number)


def roster_csv(members: list[Member], window: list[Month]) -> str:
    """The plan's coverage roster: every covered member from three years before the window."""
    start = window[0].first_day.replace(year=window[0].year - 3).isoformat()
    lines = ["member_id,plan_id,line_of_business,market,aco_id,provider_org_id,start_date,end_date"]
    for m in members:
        if not m.covered:
            continue
        plan = "plan-medi-cal" if m.line_of_business == "medi_cal" else "plan-medicare"
        end = m.coverage_end.isoformat() if m.coverage_end else ""
        lines.append(
            f"{m.member_id},{plan},{m.line_of_business},{m.market},{m.aco_id or ''},"
            f"{m.provider_org_id},{start},{end}"
        )
    return "\n".join(lines) + "\n"


def _day(r: random.Random, month: Month) -> date:
    return month.first_day + timedelta(days=r.randrange(month.days))


def claims_of(member: Member, month: Month, month_number: int, seed: int) -> list[ClaimLineReceived]:
    """One member's adjudicated claim lines with service dates in `month`: office visits with the
    member's codes, and for the seriously ill, ED visits, unplanned admissions and DME as frailty
    grows. Members who left the plan have no claims after their coverage ended."""
    if not member.covered or (member.coverage_end and month.first_day > member.coverage_end):
        return []
    r = rng(seed, member.index, f"claims:{month}")
    frailty = frailty_in(member, month_number)
    codes = CONDITIONS[member.condition][1] if member.condition in CONDITIONS else ROUTINE_CODES
    if member.condition == "cancer" and frailty < 0.45:
        codes = tuple(c for c in codes if not c.startswith("C7"))  # not (yet) metastatic
    lines: list[ClaimLineReceived] = []

    def add(kind: str, start: date, days: int, amount: float, **fields: object) -> None:
        claim_id = f"C{member.member_id}-{month}-{len(lines) + 1}"
        dx = (r.choice(codes), *r.sample(ROUTINE_CODES, 1))
        lines.append(
            ClaimLineReceived(
                claim_id=claim_id,
                line_number=1,
                member_id=member.member_id,
                claim_type=kind,
                service_from=start,
                service_to=min(start + timedelta(days=days), month.last_day),
                diagnosis_codes=list(fields.pop("dx", dx)),  # type: ignore[call-overload]
                procedure_code=fields.get("procedure_code"),  # type: ignore[arg-type]
                revenue_code=fields.get("revenue_code"),  # type: ignore[arg-type]
                place_of_service=fields.get("place_of_service"),  # type: ignore[arg-type]
                admission_type=fields.get("admission_type"),  # type: ignore[arg-type]
                ed_visit=bool(fields.get("ed_visit", False)),
                paid_amount=Decimal(f"{amount:.2f}"),
            )
        )

    if r.random() < 0.35 + frailty:
        add(
            "professional",
            _day(r, month),
            0,
            r.uniform(90, 260),
            procedure_code="99214",
            place_of_service="11",
        )
    if member.condition == "none":
        return lines
    for _ in range(_poisson(r, 0.3 * frailty)):
        add("outpatient", _day(r, month), 0, r.uniform(900, 3200), revenue_code="0450", ed_visit=True)
    for _ in range(_poisson(r, 0.15 * frailty**1.5)):
        add("inpatient", _day(r, month), r.randint(2, 9), r.uniform(9000, 32000), admission_type="emergency")
    if member.condition in ("copd", "chf") and frailty > 0.5 and r.random() < 0.5:
        add("dme", month.first_day, 0, r.uniform(180, 420), procedure_code=OXYGEN)
    if frailty > 0.6 and r.random() < 0.3:
        add("dme", month.first_day, 0, r.uniform(250, 600), procedure_code=HOSPITAL_BED)
    if frailty > 0.55 and r.random() < 0.15:
        add(
            "professional",
            _day(r, month),
            0,
            r.uniform(150, 300),
            dx=("Z515", codes[0]),
            procedure_code="99497",
        )
    return lines


def _poisson(r: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), r.random()
    while product > threshold:
        count += 1
        product *= r.random()
    return count


CLAIM_COLUMNS = (
    "claim_id,line_number,member_id,claim_type,service_from,service_to,diagnosis_codes,"
    "procedure_code,revenue_code,place_of_service,admission_type,ed_visit,paid_amount"
)


def claims_csv(lines: list[ClaimLineReceived]) -> str:
    rows = [CLAIM_COLUMNS]
    for c in lines:
        rows.append(
            f"{c.claim_id},{c.line_number},{c.member_id},{c.claim_type},{c.service_from},{c.service_to},"
            f"{';'.join(c.diagnosis_codes)},{c.procedure_code or ''},{c.revenue_code or ''},"
            f"{c.place_of_service or ''},{c.admission_type or ''},{'true' if c.ed_visit else 'false'},"
            f"{c.paid_amount}"
        )
    return "\n".join(rows) + "\n"
