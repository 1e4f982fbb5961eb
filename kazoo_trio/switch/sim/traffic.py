"""Simulated inbound calls: a load generator for demos and tests.

:class:`TrafficGenerator` makes ``rate`` inbound calls per second; each is a channel
``sim/<caller>`` routed through the dialplan bindings (destination and context as
configured), whose caller hangs up after ``hold`` seconds with ``NORMAL_CLEARING``
unless the call ended before.  It runs in the switch's nursery like any call, so
stopping the generator (or the switch) hangs up what it started.
Layer: above :mod:`.session`.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque

import attrs
import trio

from kazoo_trio.errors import ConfigurationError
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, SwitchNotRunning
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.session import route

__all__ = ["TrafficError", "TrafficGenerator", "TrafficSpec", "parse_traffic"]

log = logging.getLogger(__name__)


class TrafficError(ConfigurationError, ValueError):
    """A traffic specification that cannot be used."""


@attrs.frozen
class TrafficSpec:
    """``rate`` calls a second, each held ``hold`` seconds, to ``destination`` in ``context``."""

    rate: float
    hold: float = 10.0
    destination: str = "1000"
    context: str = "context_2"
    caller_prefix: str = "+1555"

    def __attrs_post_init__(self) -> None:
        if not self.rate > 0 or not self.hold >= 0:
            raise TrafficError("traffic needs a rate > 0 and a hold time >= 0")


def parse_traffic(text: str) -> TrafficSpec:
    """``RATE[:HOLD]`` (calls per second, seconds), e.g. ``2`` or ``0.5:30``."""
    rate_text, _, hold_text = text.partition(":")
    try:
        rate = float(rate_text)
        hold = float(hold_text) if hold_text else 10.0
    except ValueError:
        raise TrafficError(f"--sim-traffic wants RATE[:HOLD], not {text!r}") from None
    return TrafficSpec(rate, hold)


@attrs.define
class TrafficGenerator:
    """Places calls on ``switch`` per ``spec`` while :meth:`run` runs."""

    switch: ChannelHost
    spec: TrafficSpec
    placed: int = 0
    # Calls waiting for their caller's hang-up, oldest first.  Every call is held
    # as long, so deadlines come in the order calls were placed and one task serves
    # them all: a task and a timer per call cost more memory than a parked call.
    # Calls are named by uuid: one that ended is no longer in the channel table.
    _holding: deque[tuple[float, str]] = attrs.field(factory=deque, init=False, repr=False)
    _timer_running: bool = attrs.field(default=False, init=False, repr=False)

    def new_call(self, n: int) -> Channel:
        number = f"{self.spec.caller_prefix}{n:07d}"
        profile = CallerProfile(
            caller_id_name=f"Sim Caller {n}",
            caller_id_number=number,
            destination_number=self.spec.destination,
            context=self.spec.context,
            ani=number,
            network_addr="127.0.0.1",
            source="mod_sim",
        )
        return Channel(
            self.switch,
            f"sim/{number}@{self.switch.identity.ipv4}",
            "inbound",
            profile,
            variables={"sim_traffic": "true"},
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Place calls until cancelled; calls still up then hang up (``SYSTEM_SHUTDOWN``
        when the switch stops, else by their hold timer)."""
        interval = 1 / self.spec.rate
        task_status.started()
        next_at = trio.current_time()
        for n in itertools.count(1):
            channel = self.new_call(n)
            try:
                # Synchronous: a call is either placed whole or not at all.
                self.switch.start_task(self._call, channel)
            except SwitchNotRunning:
                log.warning("sim traffic: the switch is not running")
                return
            self.placed += 1
            next_at += interval
            await trio.sleep_until(max(next_at, trio.current_time()))

    async def _call(self, channel: Channel) -> None:
        """One call, in the switch's nursery: routed, then hung up by its caller after
        ``hold`` seconds unless it ended before."""
        try:
            await channel.sw.start_channel(channel, route)
        except SwitchNotRunning:  # the switch stopped meanwhile
            return
        self._holding.append((trio.current_time() + self.spec.hold, channel.uuid))
        if not self._timer_running:
            try:
                self.switch.start_task(self._hang_up_held)
            except SwitchNotRunning:
                return
            self._timer_running = True

    async def _hang_up_held(self) -> None:
        """The callers' hang-ups, each at its call's deadline, until none is waiting."""
        holding = self._holding
        try:
            while holding:
                await trio.sleep_until(holding[0][0])
                now = trio.current_time()
                while holding and holding[0][0] <= now:
                    channel = self.switch.channels.get(holding.popleft()[1])
                    if isinstance(channel, Channel) and not channel.destroyed.is_set():
                        channel.hangup("NORMAL_CLEARING")
        finally:
            self._timer_running = False
