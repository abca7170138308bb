"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, the data as the value.

`Envelope` is what travels; `encode` and `decode` are the only places that know the header names.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from hearth_schemas import Event

from .ids import new_id

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class UndecodableEvent(ValueError):
    """The record is not a CloudEvent Hearth can read; the reason goes to the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class Envelope:
    id: str
    source: str
    type: str
    time: datetime
    subject: str
    data: dict[str, Any]
    dataschema: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.subject


def new_envelope(
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    eid = event_id or new_id()
    return Envelope(
        id=eid,
        source=source,
        type=event.event_type(),
        time=time or datetime.now(UTC),
        subject=event.subject(),
        data=event.to_json_dict(),
        dataschema=event.dataschema(),
        correlation_id=correlation_id or eid,
        causation_id=causation_id,
        traceparent=traceparent,
    )


def ce_headers(
    *,
    id: str,
    source: str,
    type: str,
    time: datetime,
    subject: str,
    dataschema: str | None,
    correlation_id: str | None,
    causation_id: str | None,
    traceparent: str | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The Kafka headers of one event as text (the outbox stores them so): the one place that
    knows the CloudEvents header names."""
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": id,
        "ce_source": source,
        "ce_type": type,
        "ce_time": time.isoformat(),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
    }
    for name, value in (
        ("ce_dataschema", dataschema),
        ("ce_correlationid", correlation_id),
        ("ce_causationid", causation_id),
        ("traceparent", traceparent),
    ):
        if value is not None:
            headers[name] = value
    if extra:
        headers.update(extra)
    return headers


def header_map(env: Envelope) -> dict[str, str]:
    return ce_headers(
        id=env.id,
        source=env.source,
        type=env.type,
        time=env.time,
        subject=env.subject,
        dataschema=env.dataschema,
        correlation_id=env.correlation_id,
        causation_id=env.causation_id,
        traceparent=env.traceparent,
        extra=env.extra_headers,
    )


def headers_of(env: Envelope) -> Headers:
    return [(k, v.encode()) for k, v in header_map(env).items()]


def encode(env: Envelope) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) for a Kafka record: key = subject (the member id)."""
    return env.subject.encode(), orjson.dumps(env.data), headers_of(env)


_KNOWN_HEADERS = frozenset(
    {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "ce_correlationid",
        "ce_causationid",
        "traceparent",
        "content-type",
    }
)
_REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_time")


def decode(key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
    try:
        raw: dict[str, str] = {k: v.decode() for k, v in headers} if headers else {}
    except (UnicodeDecodeError, AttributeError):
        raise UndecodableEvent("a header value is not UTF-8 bytes") from None
    if raw.get("ce_specversion") != SPECVERSION:
        raise UndecodableEvent(f"ce_specversion is {raw.get('ce_specversion')!r}, expected '1.0'")
    missing = [h for h in _REQUIRED_HEADERS if not raw.get(h)]
    if missing:
        raise UndecodableEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    content_type = raw.get("content-type", CONTENT_TYPE)
    if not content_type.startswith(CONTENT_TYPE):
        raise UndecodableEvent(f"content-type {content_type!r} is not application/json")
    try:
        time = datetime.fromisoformat(raw["ce_time"])
    except ValueError:
        raise UndecodableEvent("ce_time is not an RFC 3339 timestamp") from None
    if value is None:
        raise UndecodableEvent("the record has no value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise UndecodableEvent("the value is not valid JSON") from None
    if type(data) is not dict:
        raise UndecodableEvent("the value is not a JSON object")
    extra = raw.keys() - _KNOWN_HEADERS
    return Envelope(
        id=raw["ce_id"],
        source=raw["ce_source"],
        type=raw["ce_type"],
        time=time,
        subject=raw.get("ce_subject") or (key.decode(errors="replace") if key else ""),
        data=data,
        dataschema=raw.get("ce_dataschema"),
        correlation_id=raw.get("ce_correlationid"),
        causation_id=raw.get("ce_causationid"),
        traceparent=raw.get("traceparent"),
        extra_headers={k: raw[k] for k in extra} if extra else {},
    )
