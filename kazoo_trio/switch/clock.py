"""Where a switch backend takes time from (replaceable in tests)."""

from __future__ import annotations

import time
from typing import Protocol

import attrs

__all__ = ["Clock", "SystemClock"]


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
