"""Admission of unauthenticated connections, and logging of refused handshakes at a bounded rate.

Anyone who can reach the distribution port can open connections; until the
handshake proves the cookie, such a connection is a stranger's.  Strangers
get a bounded share of the node:

* at most ``max_unauthenticated`` accepted connections at once (waiting or
  handshaking); at the limit the node stops accepting, so more connections
  wait in the kernel's backlog and cost nothing;
* at most ``max_per_host`` handshakes at once from one source address; more
  from the same address wait for a free slot within the handshake deadline;
* a failed handshake keeps its address's slot for ``failure_hold`` seconds
  after the socket is closed, which caps how many failures per second one
  address can make the node compute, whatever its reconnect speed.

A node that knows the cookie finishes in one round trip and never notices.

:class:`RefusalLog` logs the first few refusals of an interval in full and
counts the rest into one summary line at the interval's end, so a storm of
bad connections costs a few log lines per interval, not one per connection.
"""

from __future__ import annotations

import collections
import logging
import math

import attrs
import trio

__all__ = ["Admission", "AdmissionSettings", "RefusalLog"]

log = logging.getLogger("kazoo_trio.erlang.peers")


@attrs.frozen
class AdmissionSettings:
    """The bounds on strangers (see the module docstring); the defaults suit a cluster."""

    max_unauthenticated: int = 128
    max_per_host: int = 16
    failure_hold: float = 0.1

    def __attrs_post_init__(self) -> None:
        if self.max_unauthenticated < 1 or self.max_per_host < 1:
            raise ValueError("handshake limits must be at least 1")
        if not 0 <= self.failure_hold <= 60:
            raise ValueError("failure_hold must be 0..60 s")


@attrs.define(eq=False)
class Admission:
    """Counts of unauthenticated connections, in total and per source address."""

    settings: AdmissionSettings = attrs.Factory(AdmissionSettings)
    #: Accepted connections that have not authenticated (or failed) yet.
    unauthenticated: int = attrs.field(default=0, init=False)
    _room: trio.Event = attrs.field(factory=trio.Event, init=False)
    _hosts: dict[str, trio.Semaphore] = attrs.field(factory=dict, init=False)

    async def wait_room(self) -> None:
        """Return once another connection may be accepted."""
        while self.unauthenticated >= self.settings.max_unauthenticated:
            if self._room.is_set():
                self._room = trio.Event()
            await self._room.wait()

    def accepted(self) -> None:
        self.unauthenticated += 1

    def finished(self) -> None:
        """The connection authenticated, failed or was closed: it no longer counts."""
        self.unauthenticated -= 1
        self._room.set()

    async def host_slot(self, host: str) -> trio.Semaphore:
        """Wait for one of ``host``'s handshake slots; give it back with :meth:`release`."""
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = trio.Semaphore(self.settings.max_per_host)
        try:
            await slot.acquire()
        except BaseException:
            self._forget_idle(host, slot)
            raise
        return slot

    async def release(self, host: str, slot: trio.Semaphore, *, failed: bool) -> None:
        """Give back ``host``'s slot; after a failure, only ``failure_hold`` seconds later."""
        try:
            if failed and self.settings.failure_hold > 0:
                await trio.sleep(self.settings.failure_hold)
        finally:
            slot.release()
            self._forget_idle(host, slot)

    def _forget_idle(self, host: str, slot: trio.Semaphore) -> None:
        idle = slot.value == self.settings.max_per_host and not slot.statistics().tasks_waiting
        if idle and self._hosts.get(host) is slot:
            del self._hosts[host]


@attrs.define(eq=False)
class RefusalLog:
    """Refused handshakes: ``burst`` full lines per ``interval``, then one line with counts."""

    interval: float = 10.0
    burst: int = 5
    #: Refusals not logged in full during the current interval, by kind.
    counts: collections.Counter[str] = attrs.field(factory=collections.Counter, init=False)
    #: Refusals seen since the node started, by kind (for tests and statistics).
    totals: collections.Counter[str] = attrs.field(factory=collections.Counter, init=False)
    last: str = attrs.field(default="", init=False)
    _window_end: float = attrs.field(default=-math.inf, init=False)
    _logged: int = attrs.field(default=0, init=False)
    _pending: trio.Event = attrs.field(factory=trio.Event, init=False)

    def refused(self, kind: str, detail: str, level: int = logging.WARNING) -> None:
        """Record a refusal; log it now unless this interval's burst is spent."""
        self.totals[kind] += 1
        now = trio.current_time()
        if now >= self._window_end:
            self._window_end = now + self.interval
            self._logged = 0
        if self._logged < self.burst:
            self._logged += 1
            log.log(level, "%s", detail)
            return
        self.counts[kind] += 1
        self.last = detail
        self._pending.set()

    async def run(self) -> None:
        """Write the summary at the end of every interval that had unlogged refusals."""
        try:
            while True:
                await self._pending.wait()
                self._pending = trio.Event()
                await trio.sleep_until(self._window_end)
                self.flush()
        finally:
            self.flush()

    def flush(self) -> None:
        if not self.counts:
            return
        total = sum(self.counts.values())
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.counts.most_common())
        log.warning(
            "%d more handshakes refused in the last %g s (%s); the last: %s",
            total,
            self.interval,
            kinds,
            self.last,
        )
        self.counts.clear()
