import httpx

from hearth_dashboard.samples import SampleHistory
from hearth_dashboard.watch import Watch


class FakeServices:
    """Two services behind a mock transport: referral answers, billing is down."""

    def __init__(self) -> None:
        self.produced = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "billing":
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/health":
            return httpx.Response(
                503, json={"status": "degraded", "checks": {"database": "ok", "broker": "unavailable"}}
            )
        page = (
            "# TYPE hearth_events_produced_total counter\n"
            f'hearth_events_produced_total{{service="referral",topic="referral.events",type="A"}} {self.produced}\n'
        )
        return httpx.Response(200, text=page)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_watch_reports_health_and_the_produce_rate_between_two_rounds() -> None:
    services = FakeServices()
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(services)) as client:
        watch = Watch(
            {"referral": "http://referral", "billing": "http://billing"}, client, SampleHistory(6.0), clock
        )
        services.produced = 10
        first = await watch.overview()
        services.produced, clock.now = 30, 104.0
        second = await watch.overview()

    referral_events = [t for t in second.topics if t.topic == "referral.events"][0]
    assert [t.produced_rate for t in first.topics if t.topic == "referral.events"] == [None]
    assert (referral_events.produced, referral_events.produced_rate) == (30.0, 5.0)
    referral, billing = second.services
    assert (referral.status, referral.http_status, referral.checks["broker"]) == (
        "degraded",
        503,
        "unavailable",
    )
    assert (billing.status, billing.metrics) == ("unreachable", False)
