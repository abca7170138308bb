"""Identifiers Hearth mints: random (version 4) UUIDs in their usual text form.

They must be unique, not secret: a seeded PRNG avoids a getrandom system call per id, which on
these machines costs more than the rest of publishing an event."""

import random
import secrets

_ids = random.Random(secrets.randbits(128))


def new_id() -> str:
    h = f"{_ids.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def new_traceparent() -> str:
    """A W3C trace context for work that arrives without one (a new trace)."""
    return f"00-{_ids.getrandbits(128):032x}-{_ids.getrandbits(64):016x}-01"
