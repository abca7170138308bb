"""CloudEvents 1.0 in Kafka binary mode: attributes in `ce_*` headers, the data as the value.

`Envelope` is what travels; `encode` and `decode` are the only places that know the header names.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, fields
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
    time: datetime | str,
    subject: str,
    dataschema: str | None,
    correlation_id: str | None,
    causation_id: str | None,
    traceparent: str | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The Kafka headers of one event as text (the outbox stores them so): the one place that
    knows the CloudEvents header names. `time` may be given already as RFC 3339 text (a unit of
    work formats its one moment once for all the events it stages)."""
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": id,
        "ce_source": source,
        "ce_type": type,
        "ce_time": time if isinstance(time, str) else time.isoformat(),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
    }
    if dataschema is not None:
        headers["ce_dataschema"] = dataschema
    if correlation_id is not None:
        headers["ce_correlationid"] = correlation_id
    if causation_id is not None:
        headers["ce_causationid"] = causation_id
    if traceparent is not None:
        headers["traceparent"] = traceparent
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


def _envelope_constructor() -> Callable[..., Envelope]:
    """An `Envelope` from its eleven fields in order, set straight into the slots: the consumer
    builds one per event, and the frozen dataclass's `__init__` (an `object.__setattr__` per
    field) costs more than decoding the headers. Same object, same frozenness afterwards."""
    names = [f.name for f in fields(Envelope)]
    assert len(names) == 11, "update the setters below with the envelope's fields"
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10 = (Envelope.__dict__[name].__set__ for name in names)
    new = object.__new__

    def construct(
        a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any, a8: Any, a9: Any, a10: Any
    ) -> Envelope:
        env = new(Envelope)
        s0(env, a0), s1(env, a1), s2(env, a2), s3(env, a3), s4(env, a4), s5(env, a5)
        s6(env, a6), s7(env, a7), s8(env, a8), s9(env, a9), s10(env, a10)
        return env

    return construct


_envelope = _envelope_constructor()


def decode(key: bytes | None, value: bytes | None, headers: Any) -> Envelope:
    """The envelope of one Kafka record, or `UndecodableEvent` with the reason. Runs once per
    consumed event, so it reads each header once and checks the common case first."""
    try:
        raw: dict[str, str] = {k: v.decode() for k, v in headers} if headers else {}
    except (UnicodeDecodeError, AttributeError):
        raise UndecodableEvent("a header value is not UTF-8 bytes") from None
    get = raw.get
    event_id, source, event_type, time_text = get("ce_id"), get("ce_source"), get("ce_type"), get("ce_time")
    if get("ce_specversion") != SPECVERSION:
        raise UndecodableEvent(f"ce_specversion is {get('ce_specversion')!r}, expected '1.0'")
    if not (event_id and source and event_type and time_text):
        missing = [h for h in _REQUIRED_HEADERS if not get(h)]
        raise UndecodableEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    content_type = get("content-type")
    if content_type is not None and not content_type.startswith(CONTENT_TYPE):
        raise UndecodableEvent(f"content-type {content_type!r} is not application/json")
    try:
        time = datetime.fromisoformat(time_text)
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
    return _envelope(
        event_id,
        source,
        event_type,
        time,
        get("ce_subject") or (key.decode(errors="replace") if key else ""),
        data,
        get("ce_dataschema"),
        get("ce_correlationid"),
        get("ce_causationid"),
        get("traceparent"),
        # A fresh dict per envelope, as the dataclass default gives, when there are extra headers.
        {} if _KNOWN_HEADERS.issuperset(raw) else {k: v for k, v in raw.items() if k not in _KNOWN_HEADERS},
    )
