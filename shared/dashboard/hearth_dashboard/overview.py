"""What the page shows, assembled from one round of scrapes. Pure: no I/O.

Totals are the counters as the services report them; rates are events per second over the
sample history's window (None until there are two samples to compare).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from hearth_schemas.topics import CLAIMS_LINES, EVENT_TOPICS

from .samples import ServiceSample, rates, total_by


@dataclass(frozen=True)
class ServiceHealth:
    """A service's answer to GET /health: "ok", "degraded" (503, with the failing checks) or
    "unreachable" (no answer at all)."""

    status: str
    http_status: int | None = None
    checks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """One round's view of one service: its health, its metrics (None when /metrics did not
    answer) and the earlier sample to compute rates against."""

    name: str
    url: str
    health: ServiceHealth
    sample: ServiceSample | None
    baseline: ServiceSample | None


class ServiceView(BaseModel):
    name: str
    url: str
    docs: str
    openapi: str
    status: str
    http_status: int | None
    checks: dict[str, str]
    metrics: bool
    dead_letters: float | None
    dead_letters_by_kind: dict[str, float]
    outbox_backlog: float | None
    parked: float | None


class TopicView(BaseModel):
    topic: str
    produced: float
    produced_rate: float | None
    consumed: float
    consumed_rate: float | None


class GroupTopicView(BaseModel):
    topic: str
    lag: float | None
    consumed: float
    consumed_rate: float | None
    outcomes: dict[str, float]


class GroupView(BaseModel):
    group: str
    service: str
    lag: float | None
    consumed_rate: float | None
    topics: list[GroupTopicView]


class Overview(BaseModel):
    rate_window_s: float
    services: list[ServiceView]
    topics: list[TopicView]
    groups: list[GroupView]


def build_overview(observations: list[Observation], rate_window_s: float) -> Overview:
    return Overview(
        rate_window_s=rate_window_s,
        services=[_service_view(o) for o in observations],
        topics=_topic_views(observations),
        groups=_group_views(observations),
    )


def _service_view(o: Observation) -> ServiceView:
    s = o.sample
    by_kind = {k[0]: v for k, v in total_by(s.dead_letters, 1).items()} if s else {}
    return ServiceView(
        name=o.name,
        url=o.url,
        docs=f"{o.url}/docs",
        openapi=f"{o.url}/openapi.json",
        status=o.health.status,
        http_status=o.health.http_status,
        checks=o.health.checks,
        metrics=s is not None,
        dead_letters=sum(s.dead_letters.values()) if s else None,
        dead_letters_by_kind=by_kind,
        outbox_backlog=s.outbox_backlog if s else None,
        parked=s.parked if s else None,
    )


def _add(into: dict[str, float], key: str, value: float) -> None:
    into[key] = into.get(key, 0.0) + value


def _topic_views(observations: list[Observation]) -> list[TopicView]:
    produced: dict[str, float] = {}
    consumed: dict[str, float] = {}
    produced_rate: dict[str, float] = {}
    consumed_rate: dict[str, float] = {}
    for o in observations:
        s, b = o.sample, o.baseline
        if s is None:
            continue
        for (topic,), v in total_by(s.produced, 0).items():
            _add(produced, topic, v)
        for (topic,), v in total_by(s.consumed, 1).items():
            _add(consumed, topic, v)
        if b is None:
            continue
        seconds = s.at - b.at
        for (topic,), v in total_by(rates(b.produced, s.produced, seconds), 0).items():
            _add(produced_rate, topic, v)
        for (topic,), v in total_by(rates(b.consumed, s.consumed, seconds), 1).items():
            _add(consumed_rate, topic, v)
    any_rate = any(o.sample is not None and o.baseline is not None for o in observations)
    known = [*EVENT_TOPICS, CLAIMS_LINES]
    topics = known + sorted((set(produced) | set(consumed)) - set(known))
    return [
        TopicView(
            topic=t,
            produced=produced.get(t, 0.0),
            produced_rate=produced_rate.get(t, 0.0) if any_rate else None,
            consumed=consumed.get(t, 0.0),
            consumed_rate=consumed_rate.get(t, 0.0) if any_rate else None,
        )
        for t in topics
    ]


def _group_views(observations: list[Observation]) -> list[GroupView]:
    views: list[GroupView] = []
    for o in observations:
        s, b = o.sample, o.baseline
        if s is None:
            continue
        lag = total_by(s.lag, 0, 1)
        consumed = total_by(s.consumed, 0, 1)
        outcomes = total_by(s.consumed, 0, 1, 3)
        rate = total_by(rates(b.consumed, s.consumed, s.at - b.at), 0, 1) if b is not None else None
        groups = sorted({k[0] for k in lag} | {k[0] for k in consumed})
        for group in groups:
            pairs = sorted({k for k in lag if k[0] == group} | {k for k in consumed if k[0] == group})
            topic_views = [
                GroupTopicView(
                    topic=topic,
                    lag=lag.get((group, topic)),
                    consumed=consumed.get((group, topic), 0.0),
                    consumed_rate=rate.get((group, topic), 0.0) if rate is not None else None,
                    outcomes={k[2]: v for k, v in outcomes.items() if k[0] == group and k[1] == topic},
                )
                for _, topic in pairs
            ]
            lags = [t.lag for t in topic_views if t.lag is not None]
            rates_ = [t.consumed_rate for t in topic_views if t.consumed_rate is not None]
            views.append(
                GroupView(
                    group=group,
                    service=o.name,
                    lag=sum(lags) if lags else None,
                    consumed_rate=sum(rates_) if rate is not None else None,
                    topics=topic_views,
                )
            )
    return views
