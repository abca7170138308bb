"""How big the fault suite runs: `HEARTH_FAULTS=bounded` (default, under `make test`) or `full`
(`make faults`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultSize:
    name: str
    members: int  # per fault test
    waves_in_flight: int  # waves of five members under way at once
    wave_interval_s: float  # at most one new wave this often
    outage_s: float  # broker frozen, Postgres down
    settle_s: float  # how long effects may take to show after the load
    call_deadline_s: float  # how long one client call may keep failing


SIZES = {
    "bounded": FaultSize(
        "bounded",
        members=15,
        waves_in_flight=2,
        wave_interval_s=3.0,
        outage_s=5,
        settle_s=90,
        call_deadline_s=90,
    ),
    "full": FaultSize(
        "full",
        members=150,
        waves_in_flight=4,
        wave_interval_s=0.25,
        outage_s=30,
        settle_s=300,
        call_deadline_s=180,
    ),
}
