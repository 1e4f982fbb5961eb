"""The benchmarks' ecallmgr-like controller against the simulated switch: every call it
takes is answered, played to, hung up NORMAL_CLEARING, and counted once."""

from __future__ import annotations

import pytest
import trio

from benchmarks.controller import call_controller
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec
from tests.kazoo.profile_support import kazoo_conf_document, require_profiles
from tests.kazoo.server_harness import COOKIE, FS, running_server
from tests.waiting import wait_until

pytestmark = [pytest.mark.erl, pytest.mark.slow]

CALLS = 12


async def test_controller_answers_plays_and_hangs_up_every_call(epmd: int) -> None:
    switch = SimSwitch()
    executed: list[tuple[str, str]] = []

    def record(event: Event) -> None:
        if event.name == "CHANNEL_EXECUTE_COMPLETE":
            executed.append((event.get("Unique-ID") or "", event.get("Application") or ""))

    switch.add_listener(record)
    profiles = kazoo_conf_document(require_profiles())
    async with (
        running_server(epmd, switch=switch, profiles_xml=profiles),
        call_controller(FS, cookie=COOKIE, epmd_port=epmd, hold=0.2) as ctl,
    ):
        # The callers would hang up only after a minute: the controller ends every call.
        generator = TrafficGenerator(switch, TrafficSpec(rate=20, hold=60, context="context_2"))
        async with trio.open_nursery() as nursery:
            await nursery.start(generator.run)
            await wait_until(lambda: generator.placed >= CALLS, timeout=20)
            nursery.cancel_scope.cancel()
        placed = generator.placed

        async def all_ended() -> bool:
            stats = await ctl.stats()
            return stats.completed + stats.failed >= placed and stats.in_progress == 0

        await wait_until(all_ended, timeout=30)
        stats = await ctl.stats(reset=True)
        assert stats.created == stats.routed == stats.controlled == placed
        assert stats.answered == stats.played == stats.hangups_sent == placed
        assert stats.completed == placed and stats.failed == 0
        assert stats.causes == {"NORMAL_CLEARING": placed}
        for name in ("route", "answer", "playback", "hangup"):
            assert stats.latency[name].count == placed
        # sendmsg: answer, playback, hangup per call.
        assert stats.latency["sendmsg"].count == 3 * placed
        assert len(switch.channels) == 0
        # What the switch ran for each call, in order, as the commands asked.
        calls: dict[str, list[str]] = {}
        for uuid, app in executed:
            calls.setdefault(uuid, []).append(app)
        assert len(calls) == placed
        # Park completes only when the call leaves it (the hangup).
        for apps in calls.values():
            assert apps[-3:] == ["answer", "playback", "park"]
        # Reset: nothing left counted.
        after = await ctl.stats()
        assert after.completed == 0 and after.causes == {}
