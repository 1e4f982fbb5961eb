"""The EPMD client against a real ``epmd`` and real ``erl`` nodes."""

from __future__ import annotations

import logging
from functools import partial

import pytest
import trio

from kazoo_trio.erlang.epmd_client import (
    DuplicateName,
    EpmdError,
    keep_registered,
    names,
    port_please,
)
from kazoo_trio.erlang.epmd_protocol import NodeEntry
from tests.erlnode import EPMD, epmd_daemon, erl_node, free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

# Expression giving the port an erl node's distribution listener is bound to,
# read from the node's own sockets rather than from EPMD.
DIST_LISTEN_PORT = """
[P || S <- erlang:ports(), erlang:port_info(S, name) == {name, "tcp_inet"},
      {ok, St} <- [prim_inet:getstatus(S)], lists:member(listen, St),
      {ok, {_, P}} <- [inet:sockname(S)]].
"""


async def unregistered(name: str, port: int) -> bool:
    # EPMD notices the closed registration socket asynchronously.
    return await port_please(name, port=port) is None


async def test_register_lookup_and_names(epmd: int) -> None:
    async with trio.open_nursery() as nursery:
        creation = await nursery.start(partial(keep_registered, "kt_one", 5601, port=epmd))
        assert isinstance(creation, int) and creation > 0
        assert await port_please("kt_one", port=epmd) == NodeEntry(
            name="kt_one",
            port=5601,
            node_type=72,
            protocol=0,
            highest_version=6,
            lowest_version=5,
            extra=b"",
        )
        assert ("kt_one", 5601) in await names(port=epmd)
        assert await port_please("kt_other", port=epmd) is None
        # The epmd command line tool sees it too.
        with trio.fail_after(10):
            done = await trio.run_process(
                [EPMD or "epmd", "-port", str(epmd), "-names"], capture_stdout=True, check=False
            )
        assert "name kt_one at port 5601\n" in done.stdout.decode()
        nursery.cancel_scope.cancel()


async def test_cancellation_unregisters(epmd: int) -> None:
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(keep_registered, "kt_gone", 5602, port=epmd))
            assert (await port_please("kt_gone", port=epmd)) is not None
            scope.cancel()
    await wait_until(partial(unregistered, "kt_gone", epmd), timeout=5, interval=0.02)
    assert "kt_gone" not in dict(await names(port=epmd))


async def test_duplicate_name_refused_first_stays(epmd: int) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(keep_registered, "kt_dup", 5603, port=epmd))
        with pytest.raises(DuplicateName, match="kt_dup"):
            await nursery.start(partial(keep_registered, "kt_dup", 5604, port=epmd))
        entry = await port_please("kt_dup", port=epmd)
        assert entry is not None and entry.port == 5603
        nursery.cancel_scope.cancel()


async def test_finds_real_erl_node(epmd: int) -> None:
    async with erl_node("kt_erl@127.0.0.1", epmd_port=epmd) as node:
        listen_port = int((await node.eval(DIST_LISTEN_PORT)).strip("[]"))
        entry = await port_please("kt_erl", port=epmd)
        assert entry is not None
        assert entry.port == listen_port
        # OTP registers as a normal node even when hidden, with versions 6 and 5.
        assert (entry.node_type, entry.protocol) == (77, 0)
        assert (entry.highest_version, entry.lowest_version) == (6, 5)
        assert ("kt_erl", listen_port) in await names(port=epmd)
        # erl sees our registration through the same EPMD.
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(keep_registered, "kt_py", 5605, port=epmd))
            text = await node.eval("net_adm:names().")
            assert '{"kt_py",5605}' in text
            assert await node.eval('erl_epmd:port_please("kt_py", "127.0.0.1").') == "{port,5605,6}"
            nursery.cancel_scope.cancel()


async def test_reregisters_after_epmd_restart(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang.epmd")
    port = free_port()
    send, receive = trio.open_memory_channel[int](10)
    async with trio.open_nursery() as nursery:
        async with epmd_daemon(port):
            first = await nursery.start(
                partial(keep_registered, "kt_re", 5606, port=port, on_creation=send.send_nowait)
            )
        # The first epmd is dead: the registration is lost.
        async with epmd_daemon(port):
            with trio.fail_after(10):
                creation = await receive.receive()
            # Real epmd seeds creations from the clock and the retry waits 2 s.
            assert creation > 0 and creation != first
            entry = await port_please("kt_re", port=port)
            assert entry is not None and entry.port == 5606
        assert first > 0
        assert any("registration of 'kt_re' lost" in r.getMessage() for r in caplog.records)
        nursery.cancel_scope.cancel()


async def test_accepts_old_alive2_resp() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    closed = trio.Event()

    async def old_epmd(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(b"\x79\x00\x00\x02")  # ALIVE2_RESP, creation 2
        assert await stream.receive_some() == b""  # the client stays silent until it leaves
        closed.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, old_epmd, listeners)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                assert await inner.start(partial(keep_registered, "old", 1, port=port)) == 2
                scope.cancel()
        with trio.fail_after(5):
            await closed.wait()
        nursery.cancel_scope.cancel()


async def test_first_registration_failure_raises_before_started() -> None:
    port = free_port()  # nothing listens here
    async with trio.open_nursery() as nursery:
        with pytest.raises(EpmdError, match="cannot connect"):
            await nursery.start(partial(keep_registered, "kt_none", 5607, port=port))


async def test_full_node_names_rejected() -> None:
    with pytest.raises(ValueError, match="alive part"):
        await port_please("kt@127.0.0.1", port=1)
    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="alive part"):
            await nursery.start(partial(keep_registered, "kt@127.0.0.1", 5608, port=1))


async def test_unreachable_epmd() -> None:
    port = free_port()
    with pytest.raises(EpmdError, match="cannot connect"):
        await port_please("x", port=port)
    with pytest.raises(EpmdError, match="cannot connect"):
        await names(port=port)


@pytest.mark.parametrize(
    ("reply", "call", "match"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "port_please", "bad reply"),
        (b"\x77\x00\x15\xb3", "port_please", "closed the connection"),
        (b"\x00\x00", "names", "closed after 2 bytes"),
        (b"\x00\x00\x11\x11name x at port abc\n", "names", "malformed line"),
        (b"\x76\x00\x00\x00\x00\x07\x00", "register", "unexpected bytes"),
        (b"\x76\x00\x00\x00\x00\x00", "register", "reserved creation 0"),
        (b"\x79\x01\x00\x63", "register", "refused"),
    ],
)
async def test_garbage_replies(reply: bytes, call: str, match: str) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]

    async def answer(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(reply)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, answer, listeners)
        with pytest.raises(EpmdError, match=match) as info:
            if call == "port_please":
                await port_please("x", port=port)
            elif call == "names":
                await names(port=port)
            else:
                await nursery.start(partial(keep_registered, "x", 1, port=port))
        assert isinstance(info.value, DuplicateName) == (match == "refused")
        nursery.cancel_scope.cancel()


async def test_silent_epmd_times_out() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]

    async def stall(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, stall, listeners)
        with pytest.raises(EpmdError, match="did not answer"):
            await port_please("x", port=port, timeout=0.3)
        with pytest.raises(EpmdError, match="did not answer"):
            await nursery.start(partial(keep_registered, "x", 1, port=port, timeout=0.3))
        nursery.cancel_scope.cancel()
