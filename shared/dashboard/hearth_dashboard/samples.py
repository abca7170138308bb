"""One scrape of a service's Prometheus metrics, and the rates between two scrapes. Pure: no I/O.

Counters only ever grow within one process, so a rate is the increase between two samples over
the time between them. A series absent from the earlier sample started at zero (prometheus_client
creates a labelled series on its first increment), and a counter that went down means the
process restarted, so its whole current value is the increase (Prometheus' `rate` does the same).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

PRODUCED = "hearth_events_produced_total"
CONSUMED = "hearth_events_consumed_total"
LAG = "hearth_consumer_lag"
DEAD_LETTERS = "hearth_dead_letters_total"
OUTBOX_BACKLOG = "hearth_outbox_backlog"
PARKED = "hearth_parked_events"

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class ServiceSample:
    """The Hearth series of one service at one moment (`at`: monotonic seconds)."""

    service: str
    at: float
    produced: dict[tuple[str, str], float] = field(default_factory=dict)  # (topic, type)
    consumed: dict[tuple[str, str, str, str], float] = field(
        default_factory=dict
    )  # (group, topic, type, outcome)
    lag: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (group, topic, partition)
    dead_letters: dict[tuple[str, str], float] = field(default_factory=dict)  # (topic, kind)
    outbox_backlog: float | None = None
    parked: float | None = None


def parse_sample(service: str, text: str, at: float) -> ServiceSample:
    """Read the Hearth series out of a /metrics page (Prometheus text format); others are ignored.
    Raises ValueError when the page is not Prometheus text."""
    sample = ServiceSample(service, at)
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            label = s.labels.get
            if s.name == PRODUCED:
                _add(sample.produced, (label("topic", ""), label("type", "")), s.value)
            elif s.name == CONSUMED:
                key = (label("group", ""), label("topic", ""), label("type", ""), label("outcome", ""))
                _add(sample.consumed, key, s.value)
            elif s.name == LAG:
                _add(sample.lag, (label("group", ""), label("topic", ""), label("partition", "")), s.value)
            elif s.name == DEAD_LETTERS:
                _add(sample.dead_letters, (label("topic", ""), label("kind", "")), s.value)
            elif s.name in (OUTBOX_BACKLOG, PARKED):
                _add(gauges, s.name, s.value)
    return replace(sample, outbox_backlog=gauges.get(OUTBOX_BACKLOG), parked=gauges.get(PARKED))


def _add(into: dict[K, float], key: K, value: float) -> None:
    into[key] = into.get(key, 0.0) + value


def increase(previous: Mapping[K, float], current: Mapping[K, float]) -> dict[K, float]:
    """Per series, how much a counter grew between two samples of the same service."""
    grown: dict[K, float] = {}
    for key, value in current.items():
        before = previous.get(key, 0.0)
        grown[key] = value if value < before else value - before
    return grown


def rates(previous: Mapping[K, float], current: Mapping[K, float], seconds: float) -> dict[K, float]:
    """Per series, events per second between two samples `seconds` apart."""
    if seconds <= 0:
        raise ValueError("samples must be taken at different times")
    return {key: grown / seconds for key, grown in increase(previous, current).items()}


def total_by(series: Mapping[tuple[str, ...], float], *positions: int) -> dict[tuple[str, ...], float]:
    """Sum series over the labels not in `positions` (PromQL's `sum by`)."""
    sums: dict[tuple[str, ...], float] = defaultdict(float)
    for key, value in series.items():
        sums[tuple(key[p] for p in positions)] += value
    return dict(sums)


class SampleHistory:
    """The recent samples of each service, to compute rates over a window.

    Whoever asks (every open page, every 2 s) gets the rate over the whole window, not over the
    few milliseconds since another viewer's request, so several viewers do not make rates jumpy.
    """

    def __init__(self, window_s: float, min_interval_s: float = 0.5) -> None:
        self.window_s = window_s
        self.min_interval_s = min_interval_s
        self.stale_after_s = 3 * window_s
        self._samples: dict[str, deque[ServiceSample]] = defaultdict(deque)

    def add(self, sample: ServiceSample) -> ServiceSample | None:
        """Record `sample`; return the sample to compute its rates against, None when there is no
        usable one (the first sample, one taken a moment ago, or one so old that nobody watched
        in between and an average over it would hide what is happening now)."""
        samples = self._samples[sample.service]
        while samples and sample.at - samples[0].at > self.stale_after_s:
            samples.popleft()
        while len(samples) > 1 and sample.at - samples[1].at >= self.window_s:
            samples.popleft()
        baseline = samples[0] if samples and sample.at - samples[0].at >= self.min_interval_s else None
        samples.append(sample)
        return baseline

    def forget(self, service: str) -> None:
        """A service that stopped answering: its next sample may come from a new process."""
        self._samples.pop(service, None)
