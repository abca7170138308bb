"""Prometheus metrics shared by all services (one process per service, default registry)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PRODUCED = Counter(
    "hearth_events_produced_total",
    "Events the outbox relay published, acknowledged by the broker.",
    ["service", "topic", "type"],
)
EVENTS_CONSUMED = Counter(
    "hearth_events_consumed_total",
    "Events a consumer read, by outcome (processed, duplicate, ignored, parked, dead_lettered).",
    ["service", "group", "topic", "type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "hearth_handler_duration_seconds",
    "Time to handle one run of same-type events in one transaction.",
    ["service", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("hearth_outbox_backlog", "Outbox rows not yet published.", ["service"])
CONSUMER_LAG = Gauge(
    "hearth_consumer_lag",
    "Records behind the high watermark, per partition.",
    ["service", "group", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "hearth_dead_letters_total",
    "Records sent to the dead-letter topic, by kind of reason.",
    ["service", "topic", "kind"],
)
PARKED = Gauge("hearth_parked_events", "Events parked until what they depend on arrives.", ["service"])
HTTP_REQUESTS = Counter(
    "hearth_http_requests_total", "HTTP requests served.", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "hearth_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
