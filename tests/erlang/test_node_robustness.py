"""Bad peers lose only their own connection; the node keeps serving everyone else."""

from __future__ import annotations

import logging

import pytest
import trio

from kazoo_trio.erlang import NodeDown, NodeUp
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.handshake import Connected, Handshake, HandshakeConfig, PeerAlive, Role
from kazoo_trio.erlang.wire import frame, frame_parts, packet_parts, read_packet
from kazoo_trio.erlang.wire import messages as control
from kazoo_trio.term import Atom, Pid
from tests.erlang.nodeutil import COOKIE, PY, py_node, server
from tests.erlnode import erl_node
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

A = Atom


async def raw_connect(
    node_port: int, name: str, cookie: str = COOKIE, events: list[object] | None = None
) -> trio.SocketStream:
    """A hand-driven initiator: handshake only (answering ``alive`` with true), then the stream."""
    stream = await trio.open_tcp_stream("127.0.0.1", node_port)
    hs = Handshake(
        Role.INITIATOR, HandshakeConfig(name, cookie.encode(), RECOMMENDED, 77), peer_name=PY
    )
    with trio.fail_after(5):
        while True:
            event = hs.next_event()
            if isinstance(event, PeerAlive):
                hs.answer_alive(True)
            out = hs.data_to_send()
            if out:
                await stream.send_all(out)
            if events is not None and event is not None:
                events.append(event)
            if event is None:
                hs.receive_data(await stream.receive_some(4096))
                continue
            if isinstance(event, PeerAlive):
                continue
            assert isinstance(event, Connected), event
            break
    return stream


async def test_bad_handshakes_are_refused_and_healthy_node_serves(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang")
    async with (
        py_node(epmd, handshake_timeout=1.0) as node,
        server(node, "echo"),
        erl_node("good@127.0.0.1", epmd_port=epmd) as good,
        erl_node("bad@127.0.0.1", epmd_port=epmd, cookie="wrong") as bad,
    ):
        assert await good.eval(f"net_adm:ping('{PY}').") == "pong"
        # Wrong cookie: pang, one log line saying why.
        assert await bad.eval(f"net_adm:ping('{PY}').") == "pang"
        assert "invalid digest from node bad@127.0.0.1" in caplog.text
        # Garbage on the listen port.
        garbage = await trio.open_tcp_stream("127.0.0.1", node.port)
        await garbage.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        with trio.fail_after(5):
            while await garbage.receive_some(100):
                pass  # the node closes it
        # A stalled handshake is dropped after handshake_timeout.
        stalled = await trio.open_tcp_stream("127.0.0.1", node.port)
        await stalled.send_all(b"\x00\x20N")  # a name message that never completes
        # Meanwhile the healthy node keeps being served.
        assert await good.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, 1}}).") == "1"
        with trio.fail_after(5):
            assert await stalled.receive_some(100) == b""
        # Dropped by the timeout, not as garbage: the log says which.
        assert "timed out" in caplog.text
        await garbage.aclose()
        await stalled.aclose()
        assert node.connected_nodes() == [A("good@127.0.0.1")]
        assert await good.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, 2}}).") == "2"


async def test_unknown_and_corrupt_control_messages(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang")
    async with py_node(epmd) as node, server(node, "echo") as echo:
        stream = await raw_connect(node.port, "raw@127.0.0.1")
        await wait_until(lambda: A("raw@127.0.0.1") in node.connected_nodes())
        me = Pid("raw@127.0.0.1", 1, 0, 77)
        neg = RECOMMENDED
        # An unknown operation: logged and ignored, the connection stays.
        unknown = control.Unknown(99, (99, me, A("x")), None)
        await stream.send_all(b"".join(frame_parts(packet_parts(unknown, negotiated=neg))))
        # ...as a following call proves.
        ref = node.make_ref()
        call = control.RegSend(me, A("echo"), (A("$gen_call"), (me, ref), (A("echo"), 5)))
        await stream.send_all(b"".join(frame_parts(packet_parts(call, negotiated=neg))))
        buf = b""
        with trio.fail_after(5):
            while True:
                buf += await stream.receive_some(65536)
                frames = _frames(buf)
                replies = [f for f in frames if f]
                if replies:
                    break
        reply = read_packet(replies[0], negotiated=neg)
        assert isinstance(reply, control.SendSender)
        assert reply.message == (ref, 5)
        assert "unsupported control message" in caplog.text
        # An undecodable frame: that connection (only) is closed.
        await stream.send_all(frame(b"p\x83\xff\xff"))
        with trio.fail_after(5):
            while await stream.receive_some(65536):
                pass
        await wait_until(lambda: node.connected_nodes() == [])
        assert "protocol error" in caplog.text
        assert echo.alive
        await stream.aclose()


def _frames(buf: bytes) -> list[bytes]:
    out = []
    pos = 0
    while len(buf) - pos >= 4:
        size = int.from_bytes(buf[pos : pos + 4], "big")
        if len(buf) - pos - 4 < size:
            break
        out.append(buf[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


async def test_twenty_erl_nodes_at_once(epmd: int) -> None:
    count = 20
    async with py_node(epmd) as node, server(node, "echo"):
        results: dict[int, tuple[str, str]] = {}
        release = trio.Event()

        async def one(i: int) -> None:
            async with erl_node(f"n{i}@127.0.0.1", epmd_port=epmd, args=["+S", "1"]) as e:
                pong = await e.eval(f"net_adm:ping('{PY}').", timeout=60)
                echoed = await e.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, {i}}}).")
                results[i] = (pong, echoed)
                await release.wait()  # stay connected until every node was counted

        with trio.fail_after(150):
            async with trio.open_nursery() as nursery:
                for i in range(count):
                    nursery.start_soon(one, i)
                await wait_until(lambda: len(results) == count, timeout=120)
                assert len(node.connected_nodes()) == count
                release.set()
        assert results == {i: ("pong", str(i)) for i in range(count)}


async def test_reconnect_from_a_restarted_peer_replaces_the_old_connection(epmd: int) -> None:
    """A second connection from a node we think is connected: 'alive', then the new one wins."""
    async with py_node(epmd) as node, node.monitor_nodes() as events:
        first = await raw_connect(node.port, "again@127.0.0.1")
        assert await events.receive() == NodeUp(A("again@127.0.0.1"))
        seen: list[object] = []
        second = await raw_connect(node.port, "again@127.0.0.1", events=seen)
        assert any(isinstance(e, PeerAlive) for e in seen)
        down = await events.receive()
        assert isinstance(down, NodeDown) and down.reason == "replaced by a new connection"
        assert await events.receive() == NodeUp(A("again@127.0.0.1"))
        with trio.fail_after(5):
            while await first.receive_some(100):
                pass  # the old connection is closed by the node
        assert node.connected_nodes() == [A("again@127.0.0.1")]
        await first.aclose()
        await second.aclose()
