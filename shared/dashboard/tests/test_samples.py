import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from hearth_dashboard.samples import SampleHistory, ServiceSample, increase, parse_sample, rates, total_by


def metrics_page() -> str:
    """A /metrics page as a Hearth service renders it (same names and labels as hearth_platform)."""
    registry = CollectorRegistry()
    produced = Counter("hearth_events_produced_total", "p", ["service", "topic", "type"], registry=registry)
    consumed = Counter(
        "hearth_events_consumed_total",
        "c",
        ["service", "group", "topic", "type", "outcome"],
        registry=registry,
    )
    lag = Gauge("hearth_consumer_lag", "l", ["service", "group", "topic", "partition"], registry=registry)
    dead = Counter("hearth_dead_letters_total", "d", ["service", "topic", "kind"], registry=registry)
    backlog = Gauge("hearth_outbox_backlog", "b", ["service"], registry=registry)
    parked = Gauge("hearth_parked_events", "k", ["service"], registry=registry)
    http = Counter("hearth_http_requests_total", "h", ["service"], registry=registry)
    produced.labels("referral", "referral.events", "hearth.referral.ReferralReceived.v1").inc(7)
    produced.labels("referral", "referral.events", "hearth.referral.ReferralClosed.v1").inc(2)
    consumed.labels("referral", "hearth-referral", "eligibility.events", "T", "processed").inc(5)
    consumed.labels("referral", "hearth-referral", "eligibility.events", "T", "duplicate").inc(1)
    lag.labels("referral", "hearth-referral", "eligibility.events", "0").set(3)
    lag.labels("referral", "hearth-referral", "eligibility.events", "1").set(4)
    dead.labels("referral", "eligibility.events", "undecodable").inc(2)
    backlog.labels("referral").set(11)
    parked.labels("referral").set(1)
    http.labels("referral").inc(100)
    return generate_latest(registry).decode()


def test_parse_sample_reads_the_hearth_series_and_ignores_the_rest() -> None:
    sample = parse_sample("referral", metrics_page(), at=10.0)

    assert sample.produced == {
        ("referral.events", "hearth.referral.ReferralReceived.v1"): 7.0,
        ("referral.events", "hearth.referral.ReferralClosed.v1"): 2.0,
    }
    assert sample.consumed == {
        ("hearth-referral", "eligibility.events", "T", "processed"): 5.0,
        ("hearth-referral", "eligibility.events", "T", "duplicate"): 1.0,
    }
    assert sample.lag == {
        ("hearth-referral", "eligibility.events", "0"): 3.0,
        ("hearth-referral", "eligibility.events", "1"): 4.0,
    }
    assert sample.dead_letters == {("eligibility.events", "undecodable"): 2.0}
    assert (sample.outbox_backlog, sample.parked, sample.at) == (11.0, 1.0, 10.0)


def test_parse_sample_of_a_service_that_has_done_nothing_yet_has_no_gauges() -> None:
    sample = parse_sample("quality", "", at=0.0)

    assert sample.produced == {} and sample.outbox_backlog is None and sample.parked is None


def test_parse_sample_rejects_a_page_that_is_not_prometheus_text() -> None:
    with pytest.raises(ValueError):
        parse_sample("referral", 'hearth_events_produced_total{topic="x" not a number\n', at=0.0)


def test_rate_is_the_increase_over_the_seconds_between_samples() -> None:
    assert rates({("t",): 10.0}, {("t",): 30.0}, 4.0) == {("t",): 5.0}


def test_a_series_new_since_the_last_sample_grew_from_zero() -> None:
    assert increase({}, {("t",): 3.0}) == {("t",): 3.0}


def test_a_counter_that_went_down_restarted_so_all_of_it_is_new() -> None:
    assert increase({("t",): 500.0}, {("t",): 20.0}) == {("t",): 20.0}


def test_rates_need_two_distinct_moments() -> None:
    with pytest.raises(ValueError):
        rates({}, {}, 0.0)


def test_total_by_sums_over_the_other_labels() -> None:
    series = {("g1", "t1", "a"): 1.0, ("g1", "t1", "b"): 2.0, ("g1", "t2", "a"): 4.0, ("g2", "t1", "a"): 8.0}

    assert total_by(series, 0) == {("g1",): 7.0, ("g2",): 8.0}
    assert total_by(series, 0, 1) == {("g1", "t1"): 3.0, ("g1", "t2"): 4.0, ("g2", "t1"): 8.0}


def at(t: float, service: str = "referral") -> ServiceSample:
    return ServiceSample(service, t)


def test_history_has_no_baseline_for_the_first_sample_nor_one_taken_a_moment_later() -> None:
    history = SampleHistory(window_s=6.0, min_interval_s=0.5)

    assert history.add(at(0.0)) is None
    assert history.add(at(0.1)) is None


def test_history_baseline_is_the_oldest_sample_within_the_window() -> None:
    history = SampleHistory(window_s=6.0)
    for t in (0.0, 2.0, 4.0):
        history.add(at(t))

    assert history.add(at(6.0)).at == 0.0  # type: ignore[union-attr]
    assert history.add(at(8.0)).at == 2.0  # type: ignore[union-attr]
    assert history.add(at(10.0)).at == 4.0  # type: ignore[union-attr]


def test_history_keeps_services_apart() -> None:
    history = SampleHistory(window_s=6.0)
    history.add(at(0.0, "referral"))

    assert history.add(at(2.0, "billing")) is None
    assert history.add(at(2.0, "referral")).at == 0.0  # type: ignore[union-attr]


def test_history_drops_a_baseline_so_old_that_nobody_was_watching() -> None:
    history = SampleHistory(window_s=6.0)
    history.add(at(0.0))

    assert history.add(at(60.0)) is None
    assert history.add(at(62.0)).at == 60.0  # type: ignore[union-attr]


def test_history_forgets_a_service_that_stopped_answering() -> None:
    history = SampleHistory(window_s=6.0)
    history.add(at(0.0))
    history.forget("referral")

    assert history.add(at(2.0)) is None
