"""The reader's hot path for gen_server calls behaves exactly like the general handlers.

MONITOR_P/DEMONITOR_P on a local process are kept by the reference's bytes and
REG_SEND is delivered without building a control message; these tests mix the
hot and the general path on one monitor, end processes and connections with
hot monitors in place, and drive the path with concurrent callers on a real
``erl`` node.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from kazoo_trio.erlang import Node, Process
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.process import Envelope
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.erlang.wire import packet_parts, read_packet
from kazoo_trio.term import Atom, ImproperList, Pid, Reference
from tests.erlang.nodeutil import PY, RecordingConnection, py_node, server
from tests.erlnode import erl_node
from tests.waiting import wait_until

A = Atom
PEER = A("e@127.0.0.1")
CALLER = Pid(PEER, 85, 0, 7)
E1 = "e1@127.0.0.1"


def packet(msg: c.ControlMessage) -> bytes:
    return b"".join(packet_parts(msg, negotiated=RECOMMENDED))


def general(node: Node, conn: Any, msg: c.ControlMessage) -> None:
    node.dispatch.on_frame(conn, read_packet(packet(msg), negotiated=RECOMMENDED))


def ref(n: int) -> Reference:
    return Reference(PEER, 7, (n, 2, 3))


async def test_a_hot_monitor_is_removed_by_a_general_demonitor() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    async with node.process("srv") as proc:
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(CALLER, A("srv"), ref(1))))  # type: ignore[arg-type]
        assert [type(k) for k in proc.monitored_by] == [bytes]
        general(node, conn, c.DemonitorP(CALLER, A("srv"), ref(1)))
        assert proc.monitored_by == {}


async def test_a_hot_demonitor_by_name_removes_the_hot_monitor_once() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    async with node.process("srv") as proc:
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(CALLER, A("srv"), ref(10))))  # type: ignore[arg-type]
        assert list(proc.monitored_by.values()) == [(CALLER, A("srv"))]
        demonitor = packet(c.DemonitorP(CALLER, A("srv"), ref(10)))
        assert node.dispatch.on_packet(conn, demonitor)  # type: ignore[arg-type]
        assert proc.monitored_by == {}
        # Again: nothing left to remove, so the general handler has its say (and
        # finds nothing either, sending nothing back).
        assert not node.dispatch.on_packet(conn, demonitor)  # type: ignore[arg-type]
        general(node, conn, c.DemonitorP(CALLER, A("srv"), ref(10)))
        assert proc.monitored_by == {} and conn.sent == []


async def test_a_general_monitor_is_left_to_the_general_demonitor() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    async with node.process("srv") as proc:
        general(node, conn, c.MonitorP(CALLER, proc.pid, ref(2)))
        assert proc.monitored_by == {ref(2): (CALLER, proc.pid)}
        demonitor = packet(c.DemonitorP(CALLER, proc.pid, ref(2)))
        assert not node.dispatch.on_packet(conn, demonitor)  # type: ignore[arg-type]
        general(node, conn, c.DemonitorP(CALLER, proc.pid, ref(2)))
        assert proc.monitored_by == {}


async def test_errors_are_left_to_the_general_handlers() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    missing = c.MonitorP(CALLER, A("nosuch"), ref(3))
    assert not node.dispatch.on_packet(conn, packet(missing))  # type: ignore[arg-type]
    general(node, conn, missing)
    assert conn.sent == [c.MonitorPExit(A("nosuch"), CALLER, ref(3), A("noproc"))]
    call = (A("$gen_call"), (CALLER, ref(4)), A("req"))
    assert not node.dispatch.on_packet(conn, packet(c.RegSend(CALLER, A("nosuch"), call)))  # type: ignore[arg-type]


async def test_reg_send_delivers_what_the_general_path_delivers() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    async with node.process("srv") as proc:
        tag = ImproperList([A("alias")], ref(5))
        for message in [(A("$gen_call"), (CALLER, tag), (A("api"), b"x")), [1, b"two"]]:
            msg = c.RegSend(CALLER, A("srv"), message)
            assert node.dispatch.on_packet(conn, packet(msg))  # type: ignore[arg-type]
            general(node, conn, msg)
            assert proc.receive_nowait() == proc.receive_nowait() == Envelope(CALLER, message)


async def test_a_process_that_ends_reports_hot_monitors_with_their_reference() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    node.peers.connections[PEER] = conn  # type: ignore[assignment]
    async with node.process("srv") as proc:
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(CALLER, A("srv"), ref(6))))  # type: ignore[arg-type]
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(CALLER, proc.pid, ref(7))))  # type: ignore[arg-type]
        proc.exit(A("gone"))
    assert sorted(conn.sent, key=repr) == sorted(
        [
            c.MonitorPExit(A("srv"), CALLER, ref(6), A("gone")),
            c.MonitorPExit(proc.pid, CALLER, ref(7), A("gone")),
        ],
        key=repr,
    )


async def test_a_lost_node_takes_its_hot_monitors_along() -> None:
    node, conn = Node("hot@127.0.0.1", cookie="x"), RecordingConnection()
    async with node.process("srv") as proc:
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(CALLER, A("srv"), ref(8))))  # type: ignore[arg-type]
        other = Pid(A("f@127.0.0.1"), 1, 0, 1)
        assert node.dispatch.on_packet(conn, packet(c.MonitorP(other, A("srv"), ref(9))))  # type: ignore[arg-type]
        node.dispatch.node_lost(PEER, A("noconnection"))
        assert list(proc.monitored_by.values()) == [(other, A("srv"))]


# -- with a real erl node ----------------------------------------------------------------------

CALLERS = (
    "Callers = fun(N, K, Req) -> Self = self(), "
    "[spawn(fun() -> Self ! {done, [catch gen_server:call({hot, '" + PY + "'}, Req(), 10000) "
    "|| _ <- lists:seq(1, K)]} end) || _ <- lists:seq(1, N)], "
    "lists:append([receive {done, R} -> R after 20000 -> [timeout] end "
    "|| _ <- lists:seq(1, N)]) end."
)


@pytest.mark.erl
async def test_concurrent_erl_callers_get_their_own_replies(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e, server(node, "hot") as srv:
        await e.eval(CALLERS)
        got = await e.term("Callers(20, 50, fun() -> {echo, self()} end).")
        # Every caller got its own pid back: replies went to the right tags.
        assert len(got) == 1000 and len(set(got)) == 20
        assert all(type(p) is Pid and p.node is A(E1) for p in got)
        # Every call's monitor is gone again (the DEMONITOR_P trails the reply).
        await wait_until(lambda: not srv.monitored_by and not len(srv.mailbox))


@pytest.mark.erl
async def test_callers_see_the_server_die_during_their_calls(epmd: int) -> None:
    release = trio.Event()

    async def blocking(request: Any, sender: Pid, proc: Process) -> Any:
        await release.wait()
        return request

    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        async with server(node, "hot", blocking) as srv:
            await e.eval(CALLERS)
            await e.eval(
                "Shell = self(), spawn(fun() -> Shell ! {res, Callers(3, 1, fun() -> x end)} end)."
            )
            await wait_until(lambda: len(srv.monitored_by) == 3)
            srv.exit(A("gone"))
        got = await e.eval("receive {res, R} -> R after 10000 -> timeout end.")
        assert got.count("{'EXIT',{gone,{gen_server,call,") == 3, got
