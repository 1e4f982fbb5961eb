"""Random (version 4) UUIDs as text, cheaply: channels, call ids, jobs, applications.

``str(uuid.uuid4())`` reads 16 bytes from ``os.urandom`` (a system call) and
builds a :class:`uuid.UUID` per identifier; a simulated call makes about
twenty of them.  These identifiers must be unique, not secret, so they come
from a Mersenne Twister of this module's own, seeded from ``os.urandom``:
its own so that seeding the shared ``random`` module (as test tools do)
cannot make identifiers repeat, and seeded again in a forked child so that
parent and child do not draw the same ones.
"""

from __future__ import annotations

import os
import random
from typing import Final

__all__ = ["uuid4_str", "uuid4_text"]

_rng: Final = random.Random()
_bits = _rng.getrandbits

# RFC 4122 section 4.4: version 4 in bits 76..79, variant 10 in bits 62..63.
_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_SET: Final = (0x4000 << 64) | (0x8000 << 48)


def _reseed() -> None:
    _rng.seed()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def uuid4_str() -> str:
    """A new random UUID, ``xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`` (lower case),
    as ``str(uuid.uuid4())`` writes it."""
    return uuid4_text(_bits(128))


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` for 128 random ``bits``: the version
    and variant bits set, the other 122 kept."""
    h = f"{(bits & _CLEAR) | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
