"""The handshake state machine against a real OTP node, in both roles.

Only a socket and the sans-IO machines run here (no node runtime): EPMD is
spoken raw, the handshake by :class:`Handshake`, the frames after it by
:class:`FrameSplitter` and :func:`read_packet`.
"""

from __future__ import annotations

import secrets
import struct

import pytest
import trio

from kazoo_trio.erlang.flags import RECOMMENDED, DFlag
from kazoo_trio.erlang.handshake import (
    Connected,
    Failed,
    Handshake,
    HandshakeConfig,
    NameReceived,
    Role,
)
from kazoo_trio.erlang.wire import TICK, FrameSplitter, RegSend, Send, SendSender, read_packet
from kazoo_trio.term import Atom, Pid
from tests.erlnode import ErlNode, erl_node, erl_until

pytestmark = pytest.mark.erl

COOKIE = b"kazoo_trio_test"
OUR_NAME = "py@127.0.0.1"


async def port_please(epmd_port: int, alive: str) -> int:
    stream = await trio.open_tcp_stream("127.0.0.1", epmd_port)
    async with stream:
        req = b"z" + alive.encode()
        await stream.send_all(len(req).to_bytes(2, "big") + req)
        reply = b""
        while len(reply) < 4:
            chunk = await stream.receive_some()
            assert chunk, f"epmd closed after {reply!r}"
            reply += chunk
    assert reply[0] == 119 and reply[1] == 0, reply
    port: int = struct.unpack(">H", reply[2:4])[0]
    return port


async def register(epmd_port: int, alive: str, port: int) -> tuple[trio.SocketStream, int]:
    """ALIVE2 as a hidden node; the returned stream must stay open while registered."""
    stream = await trio.open_tcp_stream("127.0.0.1", epmd_port)
    name = alive.encode()
    body = b"x" + struct.pack(">HBBHH", port, 72, 0, 6, 5)
    body += struct.pack(">H", len(name)) + name + b"\0\0"
    await stream.send_all(len(body).to_bytes(2, "big") + body)
    reply = b""
    while len(reply) < 4 or (reply[0] == 118 and len(reply) < 6):
        chunk = await stream.receive_some()
        assert chunk, f"epmd closed after {reply!r}"
        reply += chunk
    assert reply[1] == 0, f"epmd refused the registration: {reply!r}"
    creation = struct.unpack(">I", reply[2:6])[0] if reply[0] == 118 else reply[2] << 8 | reply[3]
    return stream, creation


async def handshake(stream: trio.SocketStream, hs: Handshake) -> Connected | Failed:
    with trio.fail_after(10):
        while True:
            event = hs.next_event()
            if isinstance(event, NameReceived):
                hs.decide_status("ok")
            # next_event() may queue bytes (the 'r' reply) even when it returns None.
            out = hs.data_to_send()
            if out:
                await stream.send_all(out)
            if event is None:
                hs.receive_data(await stream.receive_some())
            elif isinstance(event, (Connected, Failed)):
                return event


async def pump(
    stream: trio.SocketStream, first: bytes, packets: trio.MemorySendChannel[bytes]
) -> None:
    """Read frames after the handshake: answer ticks, hand packets to the test."""
    frames = FrameSplitter()
    data = first
    while True:
        for payload in frames.feed(data):
            if payload:
                await packets.send(payload)
            else:
                await stream.send_all(TICK)
        data = await stream.receive_some()
        if not data:
            return


async def erl_sees_us(erl: ErlNode) -> None:
    # erl sends 'a' before it registers the connection (dist_util:connection/1),
    # so right after Connected it may not list us yet.
    await erl_until(erl, "lists:member('py@127.0.0.1', nodes(hidden))")


def config(
    flags: int = RECOMMENDED, cookie: bytes = COOKIE, creation: int | None = None
) -> HandshakeConfig:
    return HandshakeConfig(OUR_NAME, cookie, flags, creation or secrets.randbelow(2**32 - 1) + 1)


async def test_initiator_against_erl(epmd: int) -> None:
    async with erl_node("e1@127.0.0.1", epmd_port=epmd) as erl:
        port = await port_please(epmd, "e1")
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream, trio.open_nursery() as nursery:
            hs = Handshake(Role.INITIATOR, config(), peer_name="e1@127.0.0.1")
            event = await handshake(stream, hs)
            assert isinstance(event, Connected), event
            assert event.peer_name == "e1@127.0.0.1"
            # OTP 25 advertises its defaults plus PUBLISHED; we stay hidden.
            assert event.peer_flags == 0xD07DF7FBD
            assert event.negotiated_flags == RECOMMENDED
            send, receive = trio.open_memory_channel[bytes](10)
            nursery.start_soon(pump, stream, hs.trailing_data, send)
            await erl_sees_us(erl)
            assert await erl.eval("nodes(hidden).") == "['py@127.0.0.1']"
            assert await erl.eval("nodes().") == "[]"
            # A message from erl arrives as a pass-through REG_SEND.
            await erl.eval("{some_name, 'py@127.0.0.1'} ! {hello, self()}.")
            with trio.fail_after(10):
                msg = read_packet(await receive.receive(), negotiated=event.negotiated_flags)
            assert isinstance(msg, RegSend)
            assert msg.to_name is Atom("some_name")
            assert msg.message == (Atom("hello"), msg.from_pid)
            assert msg.from_pid.node is Atom("e1@127.0.0.1")
            nursery.cancel_scope.cancel()


async def test_acceptor_against_erl(epmd: int) -> None:
    with trio.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        registration, creation = await register(epmd, "py", listener.getsockname()[1])
        async with registration, erl_node("e2@127.0.0.1", epmd_port=epmd) as erl:
            connected: list[Connected | Failed] = []
            handshake_done = trio.Event()

            async def accept_one() -> None:
                sock, _ = await listener.accept()
                async with trio.SocketStream(sock) as stream:
                    hs = Handshake(Role.ACCEPTOR, config(creation=creation))
                    connected.append(await handshake(stream, hs))
                    handshake_done.set()
                    send, _receive = trio.open_memory_channel[bytes](10)
                    await pump(stream, hs.trailing_data, send)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(accept_one)
                assert await erl.eval("net_kernel:connect_node('py@127.0.0.1').") == "true"
                assert await erl.eval("nodes(hidden).") == "['py@127.0.0.1']"
                with trio.fail_after(5):
                    await handshake_done.wait()
                assert isinstance(connected[0], Connected), connected
                assert connected[0].peer_name == "e2@127.0.0.1"
                assert connected[0].peer_flags == 0xD07DF7FBD
                assert connected[0].negotiated_flags == RECOMMENDED
                nursery.cancel_scope.cancel()


async def test_acceptor_refuses_erl_with_another_cookie(epmd: int) -> None:
    with trio.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        registration, creation = await register(epmd, "py", listener.getsockname()[1])
        async with registration, erl_node("e6@127.0.0.1", epmd_port=epmd, cookie="other") as erl:
            outcome: list[Connected | Failed] = []

            async def accept_one() -> None:
                sock, _ = await listener.accept()
                async with trio.SocketStream(sock) as stream:
                    hs = Handshake(Role.ACCEPTOR, config(creation=creation))
                    outcome.append(await handshake(stream, hs))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(accept_one)
                assert await erl.eval("net_kernel:connect_node('py@127.0.0.1').") == "false"
            (event,) = outcome
            assert isinstance(event, Failed)
            assert event.reason.startswith(
                "recv_challenge_reply: invalid digest from node e6@127.0.0.1"
            )


async def test_wrong_cookie_is_refused_by_erl(epmd: int) -> None:
    async with erl_node("e3@127.0.0.1", epmd_port=epmd) as erl:
        port = await port_please(epmd, "e3")
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            hs = Handshake(Role.INITIATOR, config(cookie=b"wrong"), peer_name="e3@127.0.0.1")
            event = await handshake(stream, hs)
        # OTP closes without an 'a' and without a word.
        assert isinstance(event, Failed)
        assert event.reason.startswith("recv_challenge_ack: connection closed by peer")
        assert await erl.eval("nodes(hidden).") == "[]"


async def test_erl_refuses_missing_flags(epmd: int) -> None:
    async with erl_node("e4@127.0.0.1", epmd_port=epmd):
        port = await port_please(epmd, "e4")
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            weak = RECOMMENDED & ~DFlag.BIT_BINARIES & ~DFlag.MANDATORY_25_DIGEST
            hs = Handshake(Role.INITIATOR, config(flags=weak), peer_name="e4@127.0.0.1")
            event = await handshake(stream, hs)
        assert isinstance(event, Failed)
        assert "not_allowed" in event.reason


async def test_erl_sends_send_sender_to_our_pid(epmd: int) -> None:
    """erl sends to a pid of ours: SEND_SENDER when negotiated, else SEND."""
    for flags, expected in ((RECOMMENDED, SendSender), (RECOMMENDED & ~DFlag.SEND_SENDER, Send)):
        # A fresh name per node: epmd may not have dropped the previous one yet.
        alive = f"e5{expected.__name__.lower()}"
        async with erl_node(f"{alive}@127.0.0.1", epmd_port=epmd) as erl:
            port = await port_please(epmd, alive)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream, trio.open_nursery() as nursery:
                cfg = config(flags=flags)
                hs = Handshake(Role.INITIATOR, cfg, peer_name=f"{alive}@127.0.0.1")
                event = await handshake(stream, hs)
                assert isinstance(event, Connected)
                send, receive = trio.open_memory_channel[bytes](10)
                nursery.start_soon(pump, stream, hs.trailing_data, send)
                await erl_sees_us(erl)
                ours = Pid(OUR_NAME, 42, 0, cfg.creation)
                await erl.eval(
                    'Pid = binary_to_term(<<131,88,119,12,"py@127.0.0.1",0,0,0,42,0,0,0,0,'
                    + ",".join(str(b) for b in cfg.creation.to_bytes(4, "big"))
                    + ">>), Pid ! ping."
                )
                with trio.fail_after(10):
                    msg = read_packet(await receive.receive(), negotiated=event.negotiated_flags)
                assert type(msg) is expected
                assert msg.to_pid == ours and msg.message is Atom("ping")
                nursery.cancel_scope.cancel()
