"""OpenTelemetry tracing through HTTP and Kafka headers (hearth_platform.tracing): spans continue
the W3C traceparent Hearth already carries, and hand their own context on in its place."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from hearth_platform import tracing
from hearth_platform.app import RequestContext
from hearth_platform.cloudevents import Envelope
from hearth_platform.consumer import Consumer, Item, RawRecord
from hearth_platform.db import current_trace
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_platform.relay import Relay
from hearth_platform.settings import Settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)


def ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def only(exporter: InMemorySpanExporter, kind: SpanKind, name: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is kind and s.name == name]
    return span


def envelope(traceparent: str | None) -> Envelope:
    return Envelope(
        id="evt-1",
        source="/hearth/referral",
        type="hearth.referral.accepted.v1",
        time=datetime(2026, 11, 2, tzinfo=UTC),
        subject="member-1",
        data={},
        traceparent=traceparent,
    )


def fake_consumer() -> tuple[Consumer, list[Envelope]]:
    """A consumer whose transaction only records the envelopes its handlers would see."""
    db = SimpleNamespace(settings=Settings(), service="quality", platform=None)
    consumer = Consumer(db, HandlerRegistry())  # type: ignore[arg-type]
    seen: list[Envelope] = []

    async def apply(items: list[Item]) -> None:
        seen.extend(i.received.envelope for i in items)

    consumer._apply = apply  # type: ignore[method-assign]
    return consumer, seen


async def test_a_consumed_events_process_span_continues_its_traceparent(spans: InMemorySpanExporter) -> None:
    consumer, seen = fake_consumer()
    record = RawRecord("hearth.referral", 0, 7, b"member-1", b"{}", (("traceparent", TRACEPARENT.encode()),))
    await consumer.apply([Item(record, Received(envelope(TRACEPARENT), object()))])

    span = only(spans, SpanKind.CONSUMER, "hearth.referral.accepted.v1 process")
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_SPAN
    assert span.attributes["messaging.consumer.group.name"] == "hearth-quality"
    # The handler sees the process span as the event's parent: what it publishes continues from it.
    (handled,) = seen
    assert ids(handled.traceparent or "") == (TRACE_ID, f"{span.context.span_id:016x}")
    batch = only(spans, SpanKind.CONSUMER, "hearth-quality process batch")
    assert [f"{link.context.trace_id:032x}" for link in batch.links] == [TRACE_ID]
    assert batch.attributes["messaging.batch.message_count"] == 1


async def test_without_tracing_the_consumer_passes_the_envelope_unchanged() -> None:
    consumer, seen = fake_consumer()
    record = RawRecord("hearth.referral", 0, 7, b"member-1", b"{}", ())
    original = envelope(TRACEPARENT)
    await consumer.apply([Item(record, Received(original, object()))])
    assert seen == [original]


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, **record: Any) -> object:
        self.records.append(record)
        return record

    def close(self) -> None:
        pass


class FakeProducer:
    """The batch API of AIOKafkaProducer the relay uses (kafka_batches.py), one partition."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> "asyncio.Future[None]":
        self.sent += [{"topic": topic, **record} for record in batch.records]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeOutbox:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.marked: list[list[int]] = []

    async def fetch(self, query: str, limit: int) -> list[dict[str, Any]]:
        return self.rows

    async def execute(self, query: str, ids: list[int]) -> None:
        self.marked.append(ids)


async def test_the_relays_publish_span_continues_the_outbox_traceparent_into_kafka(
    spans: InMemorySpanExporter,
) -> None:
    db = SimpleNamespace(settings=Settings(), service="referral", platform=SimpleNamespace(schema="referral"))
    relay = Relay(db)  # type: ignore[arg-type]
    relay.producer = FakeProducer()  # type: ignore[assignment]
    headers = {
        "ce_id": "evt-9",
        "ce_type": "hearth.referral.received.v1",
        "ce_subject": "m-1",
        "traceparent": TRACEPARENT,
    }
    outbox = FakeOutbox(
        [
            {
                "id": 41,
                "event_id": "evt-9",
                "type": headers["ce_type"],
                "topic": "hearth.referral",
                "payload": "{}",
                "headers": orjson.dumps(headers).decode(),
            }
        ]
    )
    assert await relay.publish_batch(outbox) == 1  # type: ignore[arg-type]

    span = only(spans, SpanKind.PRODUCER, "hearth.referral publish")
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_SPAN
    (sent,) = relay.producer.sent  # type: ignore[attr-defined]
    kafka_headers = {k: v.decode() for k, v in sent["headers"]}
    assert ids(kafka_headers["traceparent"]) == (TRACE_ID, f"{span.context.span_id:016x}")
    assert kafka_headers["ce_id"] == "evt-9"
    assert outbox.marked == [[41]]


def traced_app() -> FastAPI:
    """As create_app wires it: RequestContext puts the request's traceparent in the TraceContext
    (what the outbox headers get); TracingMiddleware, added after it, runs before it."""
    app = FastAPI()
    app.add_middleware(RequestContext, service="referral", max_bytes=1024)
    app.add_middleware(tracing.TracingMiddleware, service="referral")

    @app.get("/members/{member_id}/referrals")
    async def referrals(member_id: str) -> dict[str, str]:
        return {"traceparent": current_trace.get().traceparent or ""}

    return app


async def test_an_http_request_span_is_the_parent_of_the_events_it_causes(
    spans: InMemorySpanExporter,
) -> None:
    transport = httpx.ASGITransport(app=traced_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:
        response = await client.get("/members/m-1/referrals", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200

    span = only(spans, SpanKind.SERVER, "GET /members/{member_id}/referrals")
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_SPAN
    assert span.attributes["http.route"] == "/members/{member_id}/referrals"
    assert span.attributes["http.response.status_code"] == 200
    assert ids(response.json()["traceparent"]) == (TRACE_ID, f"{span.context.span_id:016x}")


async def test_without_an_endpoint_tracing_stays_off_and_requests_keep_their_traceparent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(tracing.ENDPOINT_VARIABLE, raising=False)
    assert tracing.configure_tracing("referral") is False
    assert not tracing.enabled()
    transport = httpx.ASGITransport(app=traced_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:
        response = await client.get("/members/m-1/referrals", headers={"traceparent": TRACEPARENT})
    assert response.json()["traceparent"] == TRACEPARENT


EXPORT_SCRIPT = """
from opentelemetry import trace
from hearth_platform import tracing
from hearth_platform.cloudevents import Envelope
from datetime import datetime, UTC
assert tracing.configure_tracing("quality")
env = Envelope("e-1", "/hearth/referral", "hearth.referral.accepted.v1", datetime.now(UTC), "m-1", {},
               traceparent="%s")
with tracing.processing("quality", "hearth-quality", [env]) as traced:
    assert traced is not None
assert trace.get_tracer_provider().force_flush(10_000)
"""


def test_with_an_endpoint_spans_are_exported_over_otlp_http() -> None:
    """In a process of its own (configuring sets the global provider): spans reach a collector at
    OTEL_EXPORTER_OTLP_ENDPOINT, POSTed to its standard /v1/traces path, named by the service."""
    import http.server
    import os
    import subprocess
    import sys
    import threading

    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            received.append((self.path, self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, tracing.ENDPOINT_VARIABLE: f"http://127.0.0.1:{server.server_port}"}
        env.pop(tracing.SERVICE_NAME_VARIABLE, None)
        done = subprocess.run(
            [sys.executable, "-c", EXPORT_SCRIPT % TRACEPARENT],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert received, "no spans reached the collector"
    path, body = received[0]
    assert path == "/v1/traces"
    assert b"hearth-quality" in body  # service.name
    assert bytes.fromhex(TRACE_ID) in body  # the event's trace continues
