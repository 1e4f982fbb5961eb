"""``sendmsg`` queued without waiting gives what the general path gives, and the server
answers it without a lane of its own while the channel's queue has room."""

from __future__ import annotations

import re
import types
from collections.abc import Awaitable, Generator
from typing import Any

import attrs
import pytest
import trio

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.fetch.agents import FetchAgents
from kazoo_trio.kazoo.requests.bgapi import BgapiJobs
from kazoo_trio.kazoo.requests.handlers import Requester, Services, handle_request
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.channel import Channel
from kazoo_trio.term.types import Atom, Pid
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.kazoo.test_requests import FakeNode
from tests.switch.callhelpers import QUICK
from tests.switch.simhelpers import make_switch
from tests.waiting import wait_until

A = Atom
NODE = A("ecallmgr@127.0.0.1")
PID = Pid(NODE, 40, 0, 1)
UUID = "kt-fast-path-0001"

# An event as compared: name, subclass, headers, body.
Shape = tuple[str, str | None, tuple[tuple[str, str], ...], str | None]


def _sendmsg(uuid: object, *headers: tuple[bytes, bytes]) -> tuple[object, ...]:
    return (A("sendmsg"), uuid, list(headers))


def _execute(app: bytes, arg: bytes, event_uuid: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"call-command", b"execute"),
        (b"execute-app-name", app),
        (b"execute-app-arg", arg),
        (b"event-uuid", event_uuid),
    ]


REQUESTS: list[tuple[object, ...]] = [
    _sendmsg(UUID.encode(), *_execute(b"set", b"kt_a=1", b"app-1")),
    _sendmsg(list(UUID.encode()), *_execute(b"set", b"kt_b=2", b"app-2")),
    _sendmsg(b"no-such-channel", *_execute(b"set", b"kt_c=3", b"app-3")),
    (A("sendmsg"), UUID.encode(), b"not a header list"),
    (A("sendmsg"), UUID.encode()),
    _sendmsg(UUID.encode(), (b"call-command", b"hangup"), (b"hangup-cause", b"USER_BUSY")),
    # After the hang-up: dropped by a channel hanging up, or no channel any more.
    _sendmsg(UUID.encode(), *_execute(b"set", b"kt_d=4", b"app-4")),
]


def _services(switch: SimSwitch, quick: bool) -> Services:
    settings = Settings(listen_ip="127.0.0.1")
    options = OptionsTable(settings)
    options.connected(NODE)

    async def send(pid: Pid, message: object) -> None:
        raise AssertionError("sendmsg sends nothing to Erlang")

    fetch = FetchAgents(
        send=send,
        switch_nodename="freeswitch@127.0.0.1",
        is_legacy=lambda node: False,
        channel_headers=switch.channel_headers,
        get_global=switch.get_global,
    )
    return Services(
        switch=switch,
        node=FakeNode(),
        options=options,
        fetch=fetch,
        bgapi=BgapiJobs(switch, send, 30),
        streams=StreamTable(options, "freeswitch@127.0.0.1", listen_ip="127.0.0.1"),
        queue_nowait=switch.queue_private_event_nowait if quick else None,
    )


async def _stepped(awaitable: Awaitable[object]) -> tuple[bool, object]:
    """Await ``awaitable``: (whether it finished on its first step, its value)."""
    it = awaitable.__await__()
    try:
        yielded = it.send(None)
    except StopIteration as done:
        return True, done.value
    return False, await _finish(it, yielded)


@types.coroutine
def _finish(it: Generator[Any, Any, object], yielded: Any) -> Generator[Any, Any, object]:
    """Let trio run the rest of a started awaitable."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:
            try:
                yielded = it.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                yielded = it.send(sent)
            except StopIteration as done:
                return done.value


async def _replay(quick: bool) -> tuple[list[object], list[Shape], list[bool]]:
    """Every request of REQUESTS against a fresh switch with a parked channel: the
    replies, every event the switch made (byte for byte) and which replies came
    without yielding."""
    switch, _ = make_switch(timings=QUICK)
    events: list[Event] = []
    switch.add_listener(events.append)
    services = _services(switch, quick)
    requester = Requester(PID, NODE)
    replies: list[object] = []
    at_once: list[bool] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(switch.run)
        started = await switch.api("originate", f"{{origination_uuid={UUID}}}null/1000 &park()")
        assert started.text == f"+OK {UUID}\n"
        await wait_until(lambda: switch.channel_exists(UUID))
        for request in REQUESTS:
            finished, reply = await _stepped(handle_request(services, requester, request))
            replies.append(reply)
            at_once.append(finished)
            # The channel runs what was queued after the reply; the next request is
            # made once it has, so that both runs see the same channel.
            await wait_until(lambda: _idle(switch))
        await wait_until(lambda: not switch.channel_exists(UUID))
        nursery.cancel_scope.cancel()
    shapes: list[Shape] = [
        (e.name, e.subclass, tuple(_normalised(e.headers)), e.body) for e in events
    ]
    return replies, shapes, at_once


def _idle(switch: SimSwitch) -> bool:
    """The channel is gone, or waits for its next private event with none queued."""
    channel = switch.channels.get(UUID)
    if not isinstance(channel, Channel):
        return channel is None
    stats = channel.private_receive.statistics()
    return stats.current_buffer_used == 0 and stats.tasks_waiting_receive > 0


_RANDOM_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _normalised(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    # Random in every run: the interaction ids, the id of the park the call began with,
    # and the caller profiles' ids (in KZ_CDR's callflow).
    return [
        (k, "ID")
        if k.endswith("Call-Interaction-ID") or (k == "Application-UUID" and v[:4] != "app-")
        else (k, _RANDOM_UUID.sub("ID", v))
        for k, v in headers
    ]


async def test_sendmsg_without_waiting_equals_the_general_path() -> None:
    quick_replies, quick_events, quick_at_once = await _replay(quick=True)
    general_replies, general_events, _ = await _replay(quick=False)
    assert quick_replies == general_replies
    assert quick_events == general_events
    ok, badarg, baduuid = A("ok"), (A("error"), A("badarg")), (A("error"), A("baduuid"))
    assert quick_replies[:6] == [ok, ok, baduuid, badarg, badarg, ok]
    assert quick_replies[6] in (ok, baduuid)
    # Queued on a live channel with room: no yielding at all.
    assert quick_at_once[:2] == [True, True]
    done = [
        e
        for e in quick_events
        if e[0] == "CHANNEL_EXECUTE_COMPLETE" and ("Application", "set") in e[2]
    ]
    assert len(done) == 2  # kt_a and kt_b; nothing ran after the hang-up


@attrs.define(eq=False)
class _SpySwitch(SimSwitch):
    """Notes the task each sendmsg is queued from; ``full`` makes every queue look full."""

    full: bool = False
    queued_in: list[str] = attrs.field(factory=list)

    def private_queue_has_room(self, uuid: str) -> bool:
        return not self.full and super().private_queue_has_room(uuid)

    def queue_private_event_nowait(self, uuid: str, event: Event) -> bool | None:
        self.queued_in.append(trio.lowlevel.current_task().name)
        return super().queue_private_event_nowait(uuid, event)


@pytest.mark.erl
async def test_server_answers_sendmsg_inline_while_the_queue_has_room(epmd: int) -> None:
    switch = _SpySwitch(timings=QUICK)
    async with (
        running_server(epmd, switch) as server,
        erl_node("e1@127.0.0.1", epmd_port=epmd) as e,
    ):
        reply = await e.term(
            f'gen_server:call({MK}, {{api, originate, <<"{{origination_uuid={UUID}}}'
            f'null/1000 &park()">>}}).'
        )
        assert reply == (A("ok"), f"+OK {UUID}\n".encode())
        send = (
            f'gen_server:call({MK}, {{sendmsg, <<"{UUID}">>,'
            ' [{<<"call-command">>, <<"execute">>}, {<<"execute-app-name">>, <<"set">>},'
            ' {<<"execute-app-arg">>, <<"kt_N=1">>}]}).'
        )
        assert await e.term(send.replace("kt_N", "kt_inline")) == A("ok")
        assert len(switch.queued_in) == 1
        assert "_run_lane" not in switch.queued_in[0]
        # A queue that may be full: the request waits its turn in a lane.
        switch.full = True
        assert await e.term(send.replace("kt_N", "kt_lane")) == A("ok")
        assert "_run_lane" in switch.queued_in[1]
        channel = switch.channels.get(UUID)
        assert channel is not None
        await wait_until(lambda: channel.get_variable("kt_lane") == "1")
        assert channel.get_variable("kt_inline") == "1"
        await wait_until(lambda: server.lanes() == 0)
        await e.term(f'gen_server:call({MK}, {{api, uuid_kill, <<"{UUID}">>}}).')
