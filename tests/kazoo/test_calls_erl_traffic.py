"""The traffic generator against an Erlang dialplan handler: sustained calls, nothing leaked."""

from __future__ import annotations

import os

import pytest
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch, SimTimings
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec
from tests.erlnode import erl_node
from tests.kazoo.server_harness import running_server
from tests.kazoo.test_calls_erl import E1, ROUTER
from tests.switch.callhelpers import Recorder
from tests.waiting import wait_until

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# Ten calls a second held one second each: about ten calls up at any time, each
# answered and parked by the Erlang handler, then hung up by its caller.
RATE = 10.0
CALLS = 60


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_sustained_traffic_leaves_nothing_behind(epmd: int) -> None:
    switch = SimSwitch(timings=SimTimings(playback=0.1))
    created: set[str] = set()
    destroyed: dict[str, str] = {}
    answered: set[str] = set()

    def tally(event: Event) -> None:
        uuid = event.get("Unique-ID") or ""
        if event.name == "CHANNEL_CREATE":
            created.add(uuid)
        elif event.name == "CHANNEL_ANSWER":
            answered.add(uuid)
        elif event.name == "CHANNEL_DESTROY":
            destroyed[uuid] = event.get("Hangup-Cause") or ""

    switch.add_listener(tally)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(ROUTER) == "ok"
        stats = trio.lowlevel.current_statistics
        tasks_before, fds_before = stats().tasks_living, open_fds()
        generator = TrafficGenerator(switch, TrafficSpec(rate=RATE, hold=1.0, context="sim"))
        async with trio.open_nursery() as nursery:
            await nursery.start(generator.run)
            # The bound leaves room for a loaded machine; the generator paces itself.
            await wait_until(lambda: generator.placed >= CALLS, timeout=3 * CALLS / RATE + 10)
            nursery.cancel_scope.cancel()
        # Calls still up end with their callers' hang-ups (hold 1 s).
        with trio.fail_after(10):
            while len(switch.channels):
                rec.events.clear()
                await rec.wait_for(lambda ev: ev.name == "CHANNEL_DESTROY")
        assert len(created) == generator.placed >= CALLS
        assert set(destroyed) == created
        # Every call was routed by the Erlang handler (answer, park), then hung up by
        # its caller: none fell back to NO_ROUTE_DESTINATION.
        assert answered == created
        assert set(destroyed.values()) == {"NORMAL_CLEARING"}
        assert len(switch.channels) == 0
        assert stats().tasks_living == tasks_before
        assert open_fds() == fds_before
