"""What the demo's people do, month by month: who refers whom (EHR, ACO list, the plan's care
managers), how quickly the quarterback reaches and assesses a member, what the assessment finds
and what the member decides, the visits (in person and telehealth) and surveys of enrolled
members, and how enrolments end (death, hospice, goals met, coverage lost). Pure functions of the
seed and the member, like the population."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hearth_devstack.demo_calendar import Month
from hearth_devstack.demo_population import EXPERIENCE, Member, frailty_in, rng

SOURCES = ("ehr", "aco", "care_manager")
CLOSE_REASON = "no_answer_after_attempts"


@dataclass(frozen=True)
class PlannedReferral:
    member: Member
    source: str  # ehr, aco or care_manager
    referral_date: date
    goals_of_care_discussed: bool | None


def referrals_in(members: list[Member], month: Month, month_number: int, seed: int) -> list[PlannedReferral]:
    """This month's referrals by people: EHRs refer the sickest most, the ACO refers its own
    members, the plan's care managers refer a few they know."""
    planned = []
    for m in members:
        if m.condition == "none" and m.index % 97:
            continue
        r = rng(seed, m.index, f"refer:{month}")
        frailty = frailty_in(m, month_number)
        chance = 0.02 + 0.2 * frailty**2 if m.condition != "none" else 0.02
        if r.random() >= chance:
            continue
        sources = ["ehr", "ehr", "care_manager"] + (["aco", "aco"] if m.aco_id else [])
        source = r.choice(sources)
        goc = {"ehr": 0.4, "aco": 0.55, "care_manager": 0.7}[source]
        discussed = None if r.random() < 0.1 else r.random() < goc
        planned.append(
            PlannedReferral(m, source, month.first_day + timedelta(r.randrange(month.days)), discussed)
        )
    return planned


@dataclass(frozen=True)
class Assessment:
    """The quarterback's path for one referral: unable to reach, or an assessment on a day."""

    reached: bool
    assessed_on: date
    body: dict[str, Any]


def assessment_for(
    member: Member, referral_date: date, source: str, seed: int, month_number: int
) -> Assessment:
    r = rng(seed, member.index, f"assess:{referral_date}")
    reached = r.random() > {"algorithm": 0.22, "aco": 0.12, "ehr": 0.08, "care_manager": 0.06}[source]
    lag = {"ehr": (3, 21), "aco": (5, 30), "care_manager": (3, 18), "algorithm": (7, 45)}[source]
    assessed_on = referral_date + timedelta(days=r.randint(*lag))
    frailty = frailty_in(member, month_number)
    meets = r.random() < 0.75
    body: dict[str, Any] = {
        "provider_org_id": member.provider_org_id,
        "assessed_on": assessed_on.isoformat(),
        "mode": r.choices(["in_person", "video", "phone"], [0.7, 0.2, 0.1])[0],
        "decision": "enrol" if r.random() < 0.78 else "decline",
        "age_years": member.age_years,
        "primary_condition": member.condition if member.condition != "none" else "other",
        "karnofsky": max(10, min(90, int(round(80 - 60 * frailty + r.gauss(0, 8)) / 10) * 10)),
        "pps": max(10, min(90, int(round(75 - 55 * frailty + r.gauss(0, 8)) / 10) * 10)),
        "esas_total": max(0, min(100, int(15 + 45 * frailty + r.gauss(0, 8)))),
        "surrogate_identified": r.random() < 0.6,
        "goals_of_care_documented": r.random() < 0.5,
        "advance_directive_on_file": r.random() < 0.35,
    }
    if body["surrogate_identified"]:
        body["surrogate_relationship"] = r.choice(["spouse", "child", "sibling", "friend"])
    if r.random() < 0.15:
        body.pop("pps")  # incomplete data, which the data-quality measure counts
    body.update(_findings(member.condition, meets, r))
    return Assessment(reached, assessed_on, body)


def _findings(condition: str, meets: bool, r: Any) -> dict[str, Any]:
    """Disease-specific findings that meet (or miss) the SB 1004 criteria of the condition."""
    if condition == "chf":
        return {
            "nyha_class": r.choice([3, 4]) if meets else 2,
            "ejection_fraction": r.randint(12, 28) if meets else r.randint(35, 55),
        }
    if condition == "copd":
        return {
            "fev1_percent": r.randint(18, 33) if meets else r.randint(45, 70),
            "oxygen_lpm": round(r.uniform(3, 5), 1) if meets else 1.0,
        }
    if condition == "cancer":
        return {"cancer_stage": 4 if meets else 2, "failed_therapy_lines": r.randint(2, 3) if meets else 0}
    if condition == "liver":
        return {
            "meld": r.randint(20, 30) if meets else r.randint(10, 16),
            "albumin": 2.6 if meets else 3.6,
            "inr": 1.6 if meets else 1.1,
        }
    return {}


def visits_in(member: Member, month: Month, first: date, last: date, seed: int) -> list[dict[str, Any]]:
    """Visits of the interdisciplinary team in [first, last]: nurse visits, a social worker, a
    care navigator's call, sometimes a chaplain or a physician/NP; some by video or phone."""
    r = rng(seed, member.index, f"visits:{month}")
    plan = [("rn", 2), ("social_worker", 1), ("care_navigator", 1)]
    if r.random() < 0.3:
        plan.append(("chaplain", 1))
    if r.random() < 0.4:
        plan.append((r.choice(["physician", "np"]), 1))
    span = (last - first).days + 1
    visits = []
    for discipline, count in plan:
        for _ in range(count):
            if discipline == "care_navigator":
                mode = r.choice(["phone", "video"])
            else:
                mode = r.choices(["in_person", "video", "phone"], [0.72, 0.18, 0.1])[0]
            visits.append(
                {
                    "member_id": member.member_id,
                    "provider_org_id": member.provider_org_id,
                    "visit_date": (first + timedelta(days=r.randrange(span))).isoformat(),
                    "discipline": discipline,
                    "mode": mode,
                    "minutes": r.randint(15, 30) if mode == "phone" else r.randint(30, 90),
                }
            )
    return visits


def survey_for(member: Member, month: Month, on: date, seed: int) -> dict[str, Any] | None:
    """A "Feeling Heard and Understood" survey in the member's second month, if returned."""
    r = rng(seed, member.index, f"survey:{month}")
    if r.random() > 0.65:
        return None
    top = EXPERIENCE[member.org_index]

    def answer() -> int:
        return 5 if r.random() < top else r.choice([2, 3, 4, 4])

    return {
        "member_id": member.member_id,
        "provider_org_id": member.provider_org_id,
        "survey_date": on.isoformat(),
        "mode": r.choice(["mail", "phone", "web"]),
        "proxy": r.random() < 0.15,
        "heard_and_understood": answer(),
        "best_interests_first": answer(),
        "seen_as_person": answer(),
        "understood_what_matters": answer(),
        "pain_help": answer(),
    }


@dataclass(frozen=True)
class Ending:
    reason: str  # death, hospice_election, goals_met
    effective_date: date  # first day no longer enrolled
    reported_late: bool  # reported a month after it happened


def ending_in(member: Member, month: Month, month_number: int, seed: int) -> Ending | None:
    r = rng(seed, member.index, f"end:{month}")
    frailty = frailty_in(member, month_number)
    draw = r.random()
    reason = None
    if draw < 0.02 + 0.06 * frailty:
        reason = "death"
    elif draw < 0.04 + 0.1 * frailty:
        reason = "hospice_election"
    elif draw < 0.05 + 0.1 * frailty:
        reason = "goals_met"
    if reason is None:
        return None
    return Ending(reason, month.first_day + timedelta(days=r.randrange(1, month.days)), r.random() < 0.3)
