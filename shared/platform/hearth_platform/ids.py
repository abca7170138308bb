"""Identifiers Hearth mints: random (version 4) UUIDs in their usual text form.

They must be unique, not secret: a seeded PRNG avoids a getrandom system call per id, which on
these machines costs more than the rest of publishing an event."""

import os
import random
import secrets

_ids = random.Random(secrets.randbits(128))
# A forked child would otherwise mint the same ids as its parent (nothing else catches a repeat:
# the outbox has no unique index on event ids).
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


# The version (4) and variant (RFC 4122) bits of a random UUID, set over 122 random bits.
_RANDOM_BITS = 0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF
_V4_BITS = 0x00000000_0000_4000_8000_000000000000


def new_id() -> str:
    h = ((_ids.getrandbits(128) & _RANDOM_BITS) | _V4_BITS).to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_traceparent() -> str:
    """A W3C trace context for work that arrives without one (a new trace)."""
    return f"00-{_ids.getrandbits(128):032x}-{_ids.getrandbits(64):016x}-01"
