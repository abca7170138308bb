from hearth_dashboard.overview import Observation, ServiceHealth, build_overview
from hearth_dashboard.samples import ServiceSample

OK = ServiceHealth("ok", 200, {"database": "ok", "broker": "ok"})


def referral(at: float, produced: float, consumed: float) -> ServiceSample:
    return ServiceSample(
        "referral",
        at,
        produced={("referral.events", "A"): produced, ("referral.events", "B"): 1.0},
        consumed={("hearth-referral", "eligibility.events", "E", "processed"): consumed},
        lag={
            ("hearth-referral", "eligibility.events", "0"): 2.0,
            ("hearth-referral", "eligibility.events", "1"): 5.0,
        },
        dead_letters={("eligibility.events", "undecodable"): 1.0, ("eligibility.events", "schema"): 2.0},
        outbox_backlog=4.0,
        parked=0.0,
    )


def eligibility(at: float, consumed: float) -> ServiceSample:
    return ServiceSample(
        "eligibility",
        at,
        consumed={("hearth-eligibility", "referral.events", "A", "processed"): consumed},
    )


def test_first_round_shows_totals_and_no_rates_yet() -> None:
    overview = build_overview([Observation("referral", "http://r", OK, referral(0.0, 10.0, 3.0), None)], 6.0)

    topic = next(t for t in overview.topics if t.topic == "referral.events")
    assert (topic.produced, topic.produced_rate) == (11.0, None)
    assert overview.groups[0].consumed_rate is None


def test_topic_rates_add_up_what_every_service_produced_and_consumed() -> None:
    observations = [
        Observation("referral", "http://r", OK, referral(4.0, 30.0, 7.0), referral(0.0, 10.0, 3.0)),
        Observation("eligibility", "http://e", OK, eligibility(4.0, 28.0), eligibility(2.0, 20.0)),
    ]

    topics = {t.topic: t for t in build_overview(observations, 6.0).topics}

    assert (topics["referral.events"].produced, topics["referral.events"].produced_rate) == (31.0, 5.0)
    assert (topics["referral.events"].consumed, topics["referral.events"].consumed_rate) == (28.0, 4.0)
    assert (topics["eligibility.events"].consumed, topics["eligibility.events"].consumed_rate) == (7.0, 1.0)
    assert topics["billing.events"].produced_rate == 0.0


def test_consumer_lag_is_summed_over_partitions_per_group_and_topic() -> None:
    overview = build_overview(
        [Observation("referral", "http://r", OK, referral(4.0, 30.0, 7.0), referral(0.0, 10.0, 3.0))], 6.0
    )

    (group,) = overview.groups
    assert (group.group, group.service, group.lag, group.consumed_rate) == (
        "hearth-referral",
        "referral",
        7.0,
        1.0,
    )
    assert group.topics[0].outcomes == {"processed": 7.0}


def test_service_view_carries_dead_letters_outbox_parked_and_links() -> None:
    overview = build_overview(
        [Observation("referral", "http://r:8001", OK, referral(0.0, 1.0, 1.0), None)], 6.0
    )

    (service,) = overview.services
    assert (service.dead_letters, service.dead_letters_by_kind) == (3.0, {"undecodable": 1.0, "schema": 2.0})
    assert (service.outbox_backlog, service.parked) == (4.0, 0.0)
    assert (service.docs, service.openapi) == ("http://r:8001/docs", "http://r:8001/openapi.json")
    assert service.checks == {"database": "ok", "broker": "ok"}


def test_an_unreachable_service_is_shown_without_numbers_and_does_not_hide_the_others() -> None:
    observations = [
        Observation("referral", "http://r", ServiceHealth("unreachable"), None, None),
        Observation("eligibility", "http://e", OK, eligibility(4.0, 28.0), eligibility(2.0, 20.0)),
    ]

    overview = build_overview(observations, 6.0)

    down = overview.services[0]
    assert (down.status, down.metrics, down.dead_letters, down.outbox_backlog) == (
        "unreachable",
        False,
        None,
        None,
    )
    topics = {t.topic: t for t in overview.topics}
    assert topics["referral.events"].consumed_rate == 4.0
