"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, the data as the value.

`Envelope` is what travels; `encode` and `decode` are the only places that know the header names.
"""

import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from hearth_schemas import Event

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


# Event ids and trace ids must be unique, not secret: a seeded PRNG avoids a getrandom system
# call per id, which costs more than the rest of publishing an event on these machines.
_ids = random.Random(secrets.randbits(128))


def new_event_id() -> str:
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


def new_traceparent() -> str:
    """A W3C trace context for work that arrives without one (a new trace)."""
    return f"00-{_ids.getrandbits(128):032x}-{_ids.getrandbits(64):016x}-01"


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
    eid = event_id or new_event_id()
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


def header_map(env: Envelope) -> dict[str, str]:
    """The Kafka headers of `env` as text (the outbox stores them so)."""
    pairs: list[tuple[str, str | None]] = [
        ("ce_specversion", SPECVERSION),
        ("ce_id", env.id),
        ("ce_source", env.source),
        ("ce_type", env.type),
        ("ce_time", env.time.isoformat()),
        ("ce_subject", env.subject),
        ("ce_dataschema", env.dataschema),
        ("ce_correlationid", env.correlation_id),
        ("ce_causationid", env.causation_id),
        ("traceparent", env.traceparent),
        ("content-type", CONTENT_TYPE),
    ]
    pairs.extend(env.extra_headers.items())
    return {k: v for k, v in pairs if v is not None}


def headers_of(env: Envelope) -> Headers:
    return [(k, v.encode()) for k, v in header_map(env).items()]


def encode(env: Envelope) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) for a Kafka record: key = subject (the member id)."""
    return env.subject.encode(), orjson.dumps(env.data), headers_of(env)


def decode(key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
    raw: dict[str, str] = {}
    try:
        for k, v in headers or ():
            raw[k] = v.decode() if isinstance(v, bytes | bytearray) else str(v)
    except UnicodeDecodeError:
        raise UndecodableEvent("a header is not UTF-8") from None
    if raw.get("ce_specversion") != SPECVERSION:
        raise UndecodableEvent(f"ce_specversion is {raw.get('ce_specversion')!r}, expected '1.0'")
    missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_time") if not raw.get(h)]
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
    if not isinstance(data, dict):
        raise UndecodableEvent("the value is not a JSON object")
    subject = raw.get("ce_subject") or (key.decode(errors="replace") if key else "")
    known = {
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
    return Envelope(
        id=raw["ce_id"],
        source=raw["ce_source"],
        type=raw["ce_type"],
        time=time,
        subject=subject,
        data=data,
        dataschema=raw.get("ce_dataschema"),
        correlation_id=raw.get("ce_correlationid"),
        causation_id=raw.get("ce_causationid"),
        traceparent=raw.get("traceparent"),
        extra_headers={k: v for k, v in raw.items() if k not in known},
    )
