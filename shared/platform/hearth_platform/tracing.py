"""OpenTelemetry tracing across HTTP and Kafka, exported over OTLP/HTTP when configured.

Hearth already carries a W3C `traceparent` from the HTTP request into the outbox headers of every
event it causes, and from a consumed event into the events its handler publishes (db.py). This
module puts spans on that path without changing it: the HTTP server span, each event's producer
span in the relay and its process span in the consumer take the incoming traceparent as parent and
hand THEIR context on in its place, so one trace runs from the request through every service the
events reach.

Tracing is switched on by the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (and named by
`OTEL_SERVICE_NAME`, default `hearth-<service>`). Without it nothing is configured and the hooks
below return at once: no spans, no cost beyond one check.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .cloudevents import Envelope

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
#: The OpenTelemetry variables the deployment files may set (tests/deploy checks them).
VARIABLES = frozenset({ENDPOINT_VARIABLE, SERVICE_NAME_VARIABLE})
#: A batch span links to at most this many events (OpenTelemetry limits links per span too).
MAX_LINKS = 128

_propagator = TraceContextTextMapPropagator()
_tracer: trace.Tracer | None = None  # None: tracing is off


def configure_tracing(service: str) -> bool:
    """Export this process's spans over OTLP/HTTP if `OTEL_EXPORTER_OTLP_ENDPOINT` is set; True if
    tracing is on. Called once per process at start-up; a second call changes nothing."""
    if _tracer is not None:
        return True
    if not os.environ.get(ENDPOINT_VARIABLE):
        return False
    # Imported here: a process without tracing never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get(SERVICE_NAME_VARIABLE) or f"hearth-{service}"
    provider = SdkTracerProvider(
        resource=Resource.create({"service.name": name, "service.namespace": "hearth"})
    )
    # The exporter reads the endpoint (and headers, timeout) from the standard variables itself.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    use_provider(provider)
    return True


def use_provider(provider: TracerProvider | None) -> None:
    """Make spans with `provider` (None switches tracing off): configure_tracing's last step, and
    how tests trace into an in-memory exporter without touching the global provider."""
    global _tracer
    _tracer = provider.get_tracer("hearth_platform") if provider is not None else None


def enabled() -> bool:
    return _tracer is not None


def parent_context(traceparent: str | None) -> Context | None:
    """The context a W3C traceparent names (None, a new trace, if absent or malformed)."""
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def traceparent_of(span: Span) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def _end(spans: Sequence[Span], error: BaseException | None) -> None:
    for span in spans:
        if error is not None:
            span.set_status(StatusCode.ERROR, type(error).__name__)
        span.end()


class TracingMiddleware:
    """ASGI middleware: a SERVER span for each HTTP request, child of the caller's traceparent.

    It must run outside (before) the middleware that reads the `traceparent` header into the
    request's TraceContext: it replaces the header with the server span's own, so the events the
    request causes become children of this span. Named after the route template, never the path
    (paths hold member ids)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = _tracer
        if tracer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None)
        method = scope["method"]
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracer.start_as_current_span(
            method,
            context=parent_context(incoming),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "hearth.service": self.service},
        ) as span:
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"traceparent"]
            scope["headers"].append((b"traceparent", traceparent_of(span).encode()))
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)


@contextmanager
def publishing(service: str) -> Iterator[Callable[[str, dict[str, str]], None]]:
    """For one relay batch: `trace(topic, headers)` starts a PRODUCER span for an outbox row, child
    of the row's traceparent, and puts the span's own traceparent in `headers` (what the consumer
    continues). The spans end when the batch is acknowledged, in error if it is not."""
    tracer = _tracer
    spans: list[Span] = []

    def trace_row(topic: str, headers: dict[str, str]) -> None:
        if tracer is None:
            return
        span = tracer.start_span(
            f"{topic} publish",
            context=parent_context(headers.get("traceparent")),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": headers.get("ce_id", ""),
                "cloudevents.event_type": headers.get("ce_type", ""),
                "hearth.service": service,
            },
        )
        headers["traceparent"] = traceparent_of(span)
        spans.append(span)

    try:
        yield trace_row
    except BaseException as exc:
        _end(spans, exc)
        raise
    _end(spans, None)


@contextmanager
def processing(service: str, group: str, envelopes: Sequence[Envelope]) -> Iterator[list[Envelope] | None]:
    """For one consumed batch: a span over the whole batch (linked to its events' traces) and a
    CONSUMER span per event that continues the event's trace. Yields the envelopes with each
    traceparent replaced by its process span's, so what the handlers publish is caused by it; None
    when tracing is off (nothing to replace)."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    parents = [parent_context(env.traceparent) for env in envelopes]
    links = [
        Link(trace.get_current_span(ctx).get_span_context()) for ctx in parents[:MAX_LINKS] if ctx is not None
    ]
    batch = tracer.start_span(
        f"{group} process batch",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(envelopes),
            "hearth.service": service,
        },
    )
    spans = [batch]
    traced: list[Envelope] = []
    for env, parent in zip(envelopes, parents, strict=True):
        span = tracer.start_span(
            f"{env.type} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[Link(batch.get_span_context())],
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": group,
                "messaging.message.id": env.id,
                "cloudevents.event_type": env.type,
                "hearth.service": service,
            },
        )
        spans.append(span)
        traced.append(replace(env, traceparent=traceparent_of(span)))
    try:
        yield traced
    except BaseException as exc:
        _end(spans, exc)
        raise
    _end(spans, None)
