"""Warnings a peer can trigger at will, logged at a bounded rate.

What a peer can repeat as often as it likes (refused signals, floods, a stream
whose reader is too slow) must not be able to fill the log: one line per
interval, and the next line says how many were held back.
"""

from __future__ import annotations

import logging
import math
import time

import attrs

__all__ = ["RateLimitedLog"]


@attrs.define(eq=False)
class RateLimitedLog:
    """A warning logged at most once per ``interval`` seconds."""

    logger: logging.Logger
    interval: float = 5.0
    _next: float = attrs.field(default=0.0, init=False)
    _held: int = attrs.field(default=0, init=False)

    def warn(self, message: str, *args: object) -> bool:
        """Log unless one was logged less than ``interval`` ago; whether it was logged."""
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return False
        if self._held:
            self.logger.warning(
                message + " (%d similar not logged)", *args, self._held, stacklevel=2
            )
        else:
            self.logger.warning(message, *args, stacklevel=2)
        self._held = 0
        self._next = now + self.interval
        return True

    @property
    def held(self) -> int:
        """Warnings held back since the last one logged."""
        return self._held

    def due_in(self) -> float:
        """Seconds until the warnings held back should be reported (infinity: none are)."""
        return self._next - time.monotonic() if self._held else math.inf
