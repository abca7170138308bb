"""The registry of a service's event handlers: the whole consuming behaviour of a service reads
from one table.

A handler receives a run of consecutive events of one type (usually many, from one Kafka batch)
and the unit of work they share, so it can load and write in sets rather than row by row. Order
within a run is the order on the partition; one member's events therefore stay in order.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hearth_schemas import Event

from .cloudevents import Envelope
from .db import UnitOfWork

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class Received(Generic[E]):
    """A consumed event: the typed payload and the envelope it came in."""

    envelope: Envelope
    event: E


HandlerFn = Callable[[UnitOfWork, list[Received[Any]]], Awaitable[list[Received[Any]] | None]]


@dataclass(frozen=True, slots=True)
class Handler:
    event: type[Event]
    fn: HandlerFn


class HandlerRegistry:
    """`@handlers.on(ReferralReceived)` registers a handler for that event type.

    A handler may return the items it could not handle yet (they arrived out of order); the
    consumer parks those and retries them later, in the same transaction as the rest.
    """

    def __init__(self) -> None:
        self._by_type: dict[str, Handler] = {}

    def on(self, event: type[E]) -> Callable[[HandlerFn], HandlerFn]:
        def register(fn: HandlerFn) -> HandlerFn:
            self._by_type[event.event_type()] = Handler(event, fn)
            return fn

        return register

    def get(self, event_type: str) -> Handler | None:
        return self._by_type.get(event_type)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({h.event.topic() for h in self._by_type.values()}))

    def __len__(self) -> int:
        return len(self._by_type)
