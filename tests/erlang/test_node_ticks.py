"""net_ticktime: a frozen peer is declared down in time, an idle healthy one stays up."""

from __future__ import annotations

import signal

import pytest
import trio

from kazoo_trio.erlang import NodeDown, NodeUp
from kazoo_trio.term import Atom
from tests.erlang.nodeutil import PY, py_node
from tests.erlnode import erl_node

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# The smallest net_ticktime OTP accepts (a whole number of seconds): both sides
# tick every TICK/4 and give up on a peer after about TICK without a byte.
TICK = 1
ERL_ARGS = ["-kernel", "net_ticktime", str(TICK)]


async def test_idle_connection_survives_and_frozen_peer_is_dropped(epmd: int) -> None:
    async with (
        py_node(epmd, net_ticktime=TICK) as node,
        node.monitor_nodes() as events,
        erl_node("t1@127.0.0.1", epmd_port=epmd, args=ERL_ARGS) as e,
    ):
        assert await e.eval(f"net_adm:ping('{PY}').") == "pong"
        with trio.fail_after(5):
            assert await events.receive() == NodeUp(Atom("t1@127.0.0.1"))
        # Idle for three tick times, the behaviour under test: only ticks keep
        # the connection up, and nobody may declare the other down.
        with trio.move_on_after(3 * TICK):
            event = await events.receive()
            pytest.fail(f"idle connection dropped: {event!r}")
        assert await e.eval("nodes(hidden).") == f"['{PY}']"
        assert node.connected_nodes() == [Atom("t1@127.0.0.1")]
        # Freeze the erl node: its silence, not a closed socket, gets it dropped.
        e.signal(signal.SIGSTOP)
        try:
            with trio.fail_after(2 * TICK):
                down = await events.receive()
            assert isinstance(down, NodeDown)
            assert down.node == Atom("t1@127.0.0.1")
            assert down.reason == "net_tick_timeout"
            assert node.connected_nodes() == []
        finally:
            e.signal(signal.SIGCONT)
