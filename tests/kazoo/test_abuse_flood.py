"""One node flooding ``mod_kazoo`` with casts slows down that node only: every
other node's messages are delivered and answered in order, nothing is lost."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.erlang import NodeUp
from kazoo_trio.erlang.mailbox import Backlog
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom
from tests.erlang.nodeutil import PY, py_node
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.kazoo.test_server_streams_erl import spawn_owner
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"  # the bystander
E2 = "e2@127.0.0.1"  # the flooder
FLOOD = 100_000
BUDGET = 2_000
ROUNDS = 300


@pytest.mark.slow
async def test_a_flooding_node_never_costs_another_node_a_message(epmd: int) -> None:
    switch = SimSwitch()
    counted = [0]

    async def count(args: str) -> ApiOutput:
        counted[0] += 1
        return ApiOutput("+OK")

    switch.register_api("kt_count", count)
    async with (
        running_server(epmd, switch=switch, node_backlog=BUDGET) as server,
        erl_node(E1, epmd_port=epmd) as e1,
        erl_node(E2, epmd_port=epmd) as e2,
    ):
        await spawn_owner(e1, "by", "['kt::by']")
        await e2.eval(
            "spawn(fun() ->"
            f"  [gen_server:cast({MK}, {{api, kt_count, <<>>}}) || _ <- lists:seq(1, {FLOOD})]"
            " end), ok."
        )
        await wait_until(lambda: server.backlog.pauses > 0, timeout=30)
        # During the flood: every call answered, every cast delivered, in order.
        with trio.fail_after(60):
            replies = await e1.term(
                f"[begin gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'kt::by',"
                ' [{<<"Seq">>, integer_to_binary(N)}]}),'
                f"  element(1, gen_server:call({MK}, version, 5000)) end"
                f" || N <- lists:seq(1, {ROUNDS})].",
                timeout=60,
            )
        assert replies == [replies[0]] * ROUNDS and replies[0].name == "ok"
        assert counted[0] < FLOOD  # it was answered during the flood
        seqs = await e1.term(
            f"Owner_by ! {{drain, self(), {ROUNDS}}},"
            "receive {drained_by, S} -> S after 30000 -> timeout end.",
            timeout=40,
        )
        assert seqs == list(range(1, ROUNDS + 1))
        # The flooder lost nothing either: it was slowed down, not dropped.
        await wait_until(lambda: counted[0] == FLOOD, timeout=120)
        assert server.proc is not None and server.proc.mailbox.dropped == 0
        # Memory: one node's backlog stays near its budget (plus one socket read).
        assert server.backlog.peak < BUDGET + 10_000
        assert server.lanes() == 0


TICK = 1  # OTP's smallest net_ticktime: both sides give up after about 1 s of silence


@pytest.mark.slow
async def test_a_paused_connection_keeps_ticking_and_loses_nothing(epmd: int) -> None:
    peer = Atom("t1@127.0.0.1")
    async with (
        py_node(epmd, net_ticktime=TICK) as node,
        node.monitor_nodes() as events,
        node.process("kt_sink") as proc,
        erl_node(peer.name, epmd_port=epmd, args=["-kernel", "net_ticktime", str(TICK)]) as e,
    ):
        paused: list[bool] = []

        def pause(origin: Atom, on: bool) -> None:
            paused.append(on)
            conn = node.peers.connections[origin]
            if on:
                conn.hold_reading()
            else:
                conn.release_reading()

        backlog = Backlog(node.name, 5, pause)
        proc.backlog = backlog
        await e.eval(f"[{{kt_sink, '{PY}'}} ! {{n, N}} || N <- lists:seq(1, 50)], ok.")
        await wait_until(lambda: paused == [True])
        # Paused for three tick times: neither side may take it for a dead peer.
        with trio.move_on_after(3 * TICK):
            async for event in events:
                if not isinstance(event, NodeUp):
                    pytest.fail(f"paused connection dropped: {event!r}")
        assert node.connected_nodes() == [peer]
        assert len(proc.mailbox) < 50  # the rest waits in the kernel's buffers
        got = []
        with trio.fail_after(10):
            while len(got) < 50:
                envelope = await proc.receive()
                backlog.done(envelope.sender)
                got.append(envelope.message[1])
        assert got == list(range(1, 51)) and paused[:2] == [True, False]
        assert await e.eval("nodes(hidden).") == f"['{PY}']"
