"""Two Python nodes: on-demand connections, queued sends, simultaneous connects."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.erlang import Node, NodeUp
from kazoo_trio.term import Atom
from tests.erlang.nodeutil import py_node, server
from tests.waiting import wait_until

A = Atom
PA, PB = "pa@127.0.0.1", "pb@127.0.0.1"


async def test_messages_sent_while_connecting_are_delivered_in_order(epmd: int) -> None:
    async with (
        py_node(epmd, PA) as a,
        py_node(epmd, PB) as b,
        b.process("sink") as sink,
        a.process() as src,
    ):
        for i in range(500):
            await src.send((A("sink"), A(PB)), i)  # the first send starts the connection
        got = [(await sink.receive()).message for _ in range(500)]
        assert got == list(range(500))
        assert a.connected_nodes() == [A(PB)] and b.connected_nodes() == [A(PA)]


async def _call(frm: Node, to: str, results: list[object]) -> None:
    results.append(await frm.call((A("echo"), A(to)), (A("echo"), to)))


async def test_simultaneous_connects_end_with_one_connection(epmd: int) -> None:
    # Several rounds with fresh names (EPMD frees a name only once it saw the close).
    for round_ in range(3):
        na, nb = f"sa{round_}@127.0.0.1", f"sb{round_}@127.0.0.1"
        async with (
            py_node(epmd, na) as a,
            py_node(epmd, nb) as b,
            server(a, "echo"),
            server(b, "echo"),
            a.monitor_nodes() as a_events,
            b.monitor_nodes() as b_events,
        ):
            results: list[object] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_call, a, nb, results)
                nursery.start_soon(_call, b, na, results)
            assert sorted(results) == [na.encode(), nb.encode()]  # type: ignore[type-var]
            want_a, want_b = [A(nb)], [A(na)]
            await wait_until(
                lambda: a.connected_nodes() == want_a and b.connected_nodes() == want_b  # noqa: B023
            )
            assert await a_events.receive() == NodeUp(A(nb))
            assert await b_events.receive() == NodeUp(A(na))
            # No second connection came and went.
            with pytest.raises(trio.WouldBlock):
                a_events.receive_nowait()
            with pytest.raises(trio.WouldBlock):
                b_events.receive_nowait()


async def test_links_and_monitors_between_python_nodes(epmd: int) -> None:
    async with py_node(epmd, PA) as a, py_node(epmd, PB) as b, a.process() as watcher:
        watcher.trap_exit = True
        async with b.process("remote") as remote:
            await watcher.link(remote.pid)
            ref = await watcher.monitor((A("remote"), A(PB)))
            await wait_until(lambda: len(remote.links) == 1 and len(remote.monitored_by) == 1)
            remote.exit(A("bye"))
        got = {(await watcher.receive()).message for _ in range(2)}
        assert got == {
            (A("EXIT"), remote.pid, A("bye")),
            (A("DOWN"), ref, A("process"), (A("remote"), A(PB)), A("bye")),
        }
        # Connection loss: noconnection for what remains.
        async with b.process() as other:
            other.trap_exit = True
            await watcher.link(other.pid)
            await wait_until(lambda: len(other.links) == 1)
            assert b.disconnect(PA)
            msg = (await watcher.receive()).message
            assert msg == (A("EXIT"), other.pid, A("noconnection"))
            msg = (await other.receive()).message
            assert msg == (A("EXIT"), watcher.pid, A("noconnection"))
