"""Storms of bad connections: strangers are bounded, refusals are counted, calls go on."""

from __future__ import annotations

import logging

import pytest
import trio

from kazoo_trio.erlang.admission import AdmissionSettings
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.handshake import Failed, Handshake, HandshakeConfig, Role
from kazoo_trio.term import Atom
from tests.erlang.nodeutil import PY, py_node, server
from tests.erlnode import erl_node
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

STORM = 300


async def _garbage(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"\x00\x10GET / HTTP/1.1\r\n\r\n")
        while await stream.receive_some(4096):
            pass


async def _wrong_cookie(port: int, i: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    config = HandshakeConfig(f"bad{i}@127.0.0.1", b"not the cookie", RECOMMENDED, 5)
    hs = Handshake(Role.INITIATOR, config, peer_name=PY)
    async with stream:
        while True:
            event = hs.next_event()
            if out := hs.data_to_send():
                await stream.send_all(out)
            if isinstance(event, Failed):
                return
            assert event is None, event
            hs.receive_data(await stream.receive_some(4096))


async def _storm(port: int, until: float, attempts: list[int]) -> None:
    async def worker(i: int) -> None:
        while trio.current_time() < until:
            attempts[0] += 1
            try:
                if i % 2:
                    await _garbage(port)
                else:
                    await _wrong_cookie(port, i)
            except (OSError, trio.BrokenResourceError):
                pass

    async with trio.open_nursery() as nursery:
        for i in range(STORM):
            nursery.start_soon(worker, i)


def _calls_for(ms: int, var: str) -> str:
    # Erlang counts its own calls for `ms` milliseconds: the healthy client.
    # (The shell keeps bindings between evaluations: fresh names each time.)
    return (
        f"{var}T = erlang:monotonic_time(millisecond), "
        f"{var}L = fun L(N) -> case erlang:monotonic_time(millisecond) - {var}T > "
        f"{ms} of true -> N; false -> "
        f"{{echo, 1}} = gen_server:call({{echo, '{PY}'}}, {{echo, {{echo, 1}}}}, 5000), "
        f"L(N + 1) end end, {var}L(0)."
    )


@pytest.mark.slow
async def test_a_storm_of_bad_connections_leaves_calls_going(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang")
    async with (
        py_node(epmd, handshake_timeout=2.0) as node,
        server(node, "echo"),
        erl_node("good@127.0.0.1", epmd_port=epmd) as good,
    ):
        assert await good.eval(f"net_adm:ping('{PY}').") == "pong"
        quiet = int(await good.eval(_calls_for(1000, "Quiet")))
        attempts = [0]
        during = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_storm, node.port, trio.current_time() + 3.0, attempts)
            # The storm in full swing, then a second of calls inside it.
            await wait_until(lambda: sum(node.peers.refusals.totals.values()) >= 100)
            with trio.fail_after(30):
                during = int(await good.eval(_calls_for(1000, "Storm"), timeout=30))
        refusals = node.peers.refusals
        print(
            f"calls/s quiet {quiet}, during a storm of {STORM} connections {during} "
            f"({during / quiet:.0%}); {attempts[0]} bad connections, "
            f"refused {dict(refusals.totals)}"
        )
        # The healthy node was served throughout, on its one connection.
        assert during > 0
        assert node.connected_nodes() == [Atom("good@127.0.0.1")]
        assert await good.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, 2}}).") == "2"
        # Every bad connection was refused and counted...
        assert refusals.totals["bad_cookie"] > 0
        assert refusals.totals["protocol"] > 0
        assert node.peers.admission.unauthenticated == 0
        # ...in a bounded number of log lines: a burst, then one summary per
        # interval (the storm fits in one or two of them).
        refusals.flush()
        lines = [
            r.getMessage()
            for r in caplog.records
            if r.name == "kazoo_trio.erlang.peers" and r.levelno >= logging.WARNING
        ]
        assert len(lines) <= 2 * (refusals.burst + 1), lines
        summaries = [line for line in lines if "more handshakes refused" in line]
        assert summaries and "bad_cookie" in summaries[-1]


async def test_strangers_are_bounded_in_total_and_per_address(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang")
    limits = AdmissionSettings(max_unauthenticated=3, max_per_host=2, failure_hold=0.2)
    async with py_node(epmd, handshake_timeout=1.0, admission=limits) as node:
        admission = node.peers.admission
        # Five connections that never say a word: three are accepted, two wait
        # in the kernel's backlog; of the three, two handshake and one waits
        # for a slot of its address.
        stalled = [await trio.open_tcp_stream("127.0.0.1", node.port) for _ in range(5)]

        def settled() -> bool:
            slot = admission._hosts.get("127.0.0.1")
            return (
                admission.unauthenticated == 3
                and slot is not None
                and slot.value == 0
                and slot.statistics().tasks_waiting == 1
            )

        await wait_until(settled)
        # All of them time out, those from the backlog after the first ones.
        await wait_until(lambda: node.peers.refusals.totals["timed out"] == 5, timeout=15)
        assert "waiting for a handshake slot" in caplog.text
        assert "in the handshake" in caplog.text
        for stream in stalled:
            await stream.aclose()
        await wait_until(lambda: admission.unauthenticated == 0 and not admission._hosts)
        # A node with the cookie gets in as soon as there is room.
        async with erl_node("late@127.0.0.1", epmd_port=epmd) as late:
            assert await late.eval(f"net_adm:ping('{PY}').") == "pong"
