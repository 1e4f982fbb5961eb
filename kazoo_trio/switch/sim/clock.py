"""Time in the simulated core: where it comes from (replaceable in tests) and how long
simulated things take.  Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import time
from typing import Protocol

import attrs

__all__ = ["Clock", "SimTimings", "SystemClock"]


class Clock(Protocol):
    def wall_us(self) -> int:
        """Microseconds since the Unix epoch (``Event-Date-Timestamp``)."""
        ...

    def monotonic_us(self) -> int:
        """A monotonic microsecond count (uptime)."""
        ...


@attrs.frozen
class SystemClock:
    def wall_us(self) -> int:
        return time.time_ns() // 1000

    def monotonic_us(self) -> int:
        return time.monotonic_ns() // 1000


@attrs.frozen
class SimTimings:
    """How long simulated things take, in seconds (short values make quick tests).

    ``ring_delay``: a ``user/`` leg rings this long before answering;
    ``answer_delay``: a ``null/`` leg answers after this; ``playback``: a file plays
    this long (``silence_stream://N`` plays N ms, the channel variable
    ``sim_playback_ms`` overrides); ``record``: the longest a ``record`` runs.
    """

    ring_delay: float = 2.0
    answer_delay: float = 0.0
    playback: float = 1.0
    record: float = 5.0
