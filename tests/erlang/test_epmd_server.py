"""The embedded EPMD serving real ``erl`` nodes (no real epmd involved)."""

from __future__ import annotations

import itertools
import logging
import signal
from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio

from kazoo_trio.erlang.epmd_client import DuplicateName, keep_registered, names, port_please
from kazoo_trio.erlang.epmd_protocol import (
    alive2_request,
    parse_alive2_reply,
    parse_port2_reply,
    port_please2_request,
)
from kazoo_trio.erlang.epmd_server import EpmdServer, _is_local
from tests.erlnode import EPMD, ErlNode, erl_node
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

DIST_LISTEN_PORT = """
[P || S <- erlang:ports(), erlang:port_info(S, name) == {name, "tcp_inet"},
      {ok, St} <- [prim_inet:getstatus(S)], lists:member(listen, St),
      {ok, {_, P}} <- [inet:sockname(S)]].
"""


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[tuple[EpmdServer, int]]:
    srv = EpmdServer(request_timeout=0.5)
    port = await nursery.start(srv.serve, "127.0.0.1", 0)
    yield srv, port


async def unregistered(name: str, port: int) -> bool:
    # EPMD notices a closed registration socket asynchronously.
    return await port_please(name, port=port) is None


async def listen_port(node: ErlNode) -> int:
    text = await node.eval(DIST_LISTEN_PORT)
    return int(text.strip("[]"))


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, return everything the server sends until it closes (bounded)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        received = bytearray()
        with trio.fail_after(5):
            while chunk := await stream.receive_some():
                received += chunk
    return bytes(received)


async def test_erl_nodes_register_find_and_ping_each_other(
    server: tuple[EpmdServer, int],
) -> None:
    srv, port = server
    async with (
        erl_node("ea@127.0.0.1", epmd_port=port) as a,
        erl_node("eb@127.0.0.1", epmd_port=port) as b,
    ):
        regs = srv.registrations
        assert set(regs) == {"ea", "eb"}
        for node, name in ((a, "ea"), (b, "eb")):
            # The node adopted exactly the creation we handed out.
            assert int(await node.eval("erlang:system_info(creation).")) == regs[name].creation
            assert regs[name].creation != 0
            entry = await port_please(name, port=port)
            assert entry is not None and entry.port == await listen_port(node)
            assert (entry.node_type, entry.highest_version, entry.lowest_version) == (77, 6, 5)
        assert await a.eval("lists:sort(element(2, net_adm:names())).") == (
            f'[{{"ea",{await listen_port(a)}}},{{"eb",{await listen_port(b)}}}]'
        )
        assert sorted(await names(port=port)) == [
            ("ea", await listen_port(a)),
            ("eb", await listen_port(b)),
        ]
        assert await a.eval("net_adm:ping('eb@127.0.0.1').") == "pong"
        assert await b.eval("nodes().") == "['ea@127.0.0.1']"
        # erl's own epmd client checks the port NAMES reports against ERL_EPMD_PORT.
        assert await b.eval("element(1, net_adm:names()).") == "ok"
        first_creation = regs["eb"].creation

        b.signal(signal.SIGKILL)
        await wait_until(partial(unregistered, "eb", port), timeout=5, interval=0.02)
        assert "eb" not in srv.registrations
        assert [n for n, _ in await names(port=port)] == ["ea"]

    # A restarted node gets a different, still non-zero creation.
    async with erl_node("eb@127.0.0.1", epmd_port=port) as b2:
        creation = int(await b2.eval("erlang:system_info(creation)."))
        assert creation == srv.registrations["eb"].creation
        assert creation not in (0, first_creation)


async def test_duplicate_names_refused(
    server: tuple[EpmdServer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, port = server
    async with erl_node("ed@127.0.0.1", epmd_port=port) as first:
        creation = srv.registrations["ed"].creation
        async with trio.open_nursery() as nursery:
            with pytest.raises(DuplicateName):
                await nursery.start(partial(keep_registered, "ed", 5700, port=port))
        # erl's own client gets the refusal too and does not start distribution.
        monkeypatch.setenv("ERL_EPMD_PORT", str(port))
        async with erl_node(None) as second:
            text = await second.eval("net_kernel:start(['ed@127.0.0.1', longnames]).")
            assert text.startswith("{error,")
            assert await second.eval("node().") == "nonode@nohost"
        # The first registration is untouched.
        assert srv.registrations["ed"].creation == creation
        entry = await port_please("ed", port=port)
        assert entry is not None and entry.port == await listen_port(first)
        assert await first.eval("erlang:system_info(creation).") == str(creation)


async def test_bad_connections_dropped_healthy_registration_kept(
    server: tuple[EpmdServer, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kazoo_trio.erlang.epmd.server")
    srv, port = server
    async with (
        erl_node("eh@127.0.0.1", epmd_port=port) as healthy,
        erl_node("ei@127.0.0.1", epmd_port=port) as other,
    ):
        cases = [
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "outside"),  # "GE" as a length
            (b"\xff\xff" + b"\x00" * 100, "outside"),  # oversize
            (b"\x00\x05Q", "unknown request tag"),
            (b"\x00\x01n\x00\x01n", "bytes after"),  # two requests
            (b"\x00\x0ez", "no complete request"),  # stalls
            (b"\x00\x0d" + alive2_request("zz", 1)[2:-2], "truncated"),
        ]
        for data, reason in cases:
            caplog.clear()
            with trio.fail_after(5):
                # The server closes without replying; only the offending connection goes.
                assert await raw_exchange(port, data) == b""
            messages = [r.getMessage() for r in caplog.records]
            assert len(messages) == 1 and reason in messages[0], messages

        # A connection that never sends anything is dropped after the timeout too.
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        with trio.fail_after(5):
            assert await stream.receive_some() == b""
        await stream.aclose()

        assert set(srv.registrations) == {"eh", "ei"}
        entry = await port_please("eh", port=port)
        assert entry is not None and entry.port == await listen_port(healthy)
        assert await other.eval("net_adm:ping('eh@127.0.0.1').") == "pong"
        # Only the two registrations stay open.
        await wait_until(lambda: srv.connections <= 2, timeout=5, interval=0.02)


async def test_registration_ends_on_extra_byte(server: tuple[EpmdServer, int]) -> None:
    srv, port = server
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(alive2_request("ex", 5800))
        reply = parse_alive2_reply(await stream.receive_some())
        assert reply is not None and reply.ok and reply.extended
        assert "ex" in srv.registrations
        await stream.send_all(b"\x00")
        with trio.fail_after(5):
            assert await stream.receive_some() == b""
    assert "ex" not in srv.registrations
    assert await raw_exchange(port, port_please2_request("ex")) == b"\x77\x01"


async def test_creations_per_version(server: tuple[EpmdServer, int]) -> None:
    _srv, port = server
    seen_v6: list[int] = []
    seen_v5: list[int] = []
    for _ in range(4):
        for name, highest, seen in (("c6", 6, seen_v6), ("c5", 5, seen_v5)):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(alive2_request(name, 5900, highest=highest, lowest=5))
                buf = bytearray()
                while (reply := parse_alive2_reply(buf)) is None:
                    buf += await stream.receive_some()
                assert reply.ok and reply.extended == (highest >= 6)
                seen.append(reply.creation)
            # Closing unregistered it; wait before registering the name again.
            await wait_until(partial(unregistered, name, port), timeout=5, interval=0.02)
    # v6: a clock-seeded counter, one step per re-registration.
    assert seen_v6 == [seen_v6[0] + i for i in range(4)] and seen_v6[0] >= 4
    # v5: 1..3, changing every time.
    assert all(1 <= c <= 3 for c in seen_v5)
    assert all(a != b for a, b in itertools.pairwise(seen_v5))


async def test_port2_reply_bytes(server: tuple[EpmdServer, int]) -> None:
    _srv, port = server
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(keep_registered, "dup", 5555, port=port))
        reply = await raw_exchange(port, port_please2_request("dup"))
        # Same bytes real epmd sent for the same registration.
        assert reply == bytes.fromhex("77 00 15b3 48 00 0006 0005 0003 647570 0000")
        assert parse_port2_reply(reply) is not None
        names_reply = await raw_exchange(port, b"\x00\x01n")
        assert names_reply == port.to_bytes(4, "big") + b"name dup at port 5555\n"
        assert await raw_exchange(port, b"\x00\x01k") == b"NO"
        nursery.cancel_scope.cancel()


async def test_connection_limit(nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    srv = EpmdServer(request_timeout=60, max_connections=2)
    port = await nursery.start(srv.serve, "127.0.0.1", 0)
    idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
    await wait_until(lambda: srv.connections >= 2, timeout=5, interval=0.02)
    # The third is closed unanswered; the request timeout is far off, so only the
    # limit can have closed it.
    with trio.fail_after(5):
        assert await raw_exchange(port, b"\x00\x01n") == b""
    assert any("refusing EPMD connection" in r.getMessage() for r in caplog.records)
    for stream in idle:
        await stream.aclose()
    await wait_until(lambda: not srv.connections, timeout=5, interval=0.02)
    assert (await raw_exchange(port, b"\x00\x01n"))[:4] == port.to_bytes(4, "big")


async def test_epmd_command_line_tool_reads_it(server: tuple[EpmdServer, int]) -> None:
    _srv, port = server
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(keep_registered, "kt_cli", 4242, port=port))
        with trio.fail_after(10):
            done = await trio.run_process(
                [EPMD or "epmd", "-port", str(port), "-names"], capture_stdout=True, check=False
            )
        assert done.returncode == 0
        assert done.stdout.decode() == (
            f"epmd: up and running on port {port} with data:\nname kt_cli at port 4242\n"
        )
        nursery.cancel_scope.cancel()


def test_only_local_peers_may_register() -> None:
    local = ("127.0.0.1", 4369)
    assert _is_local(("127.0.0.1", 5000), local)
    assert _is_local(("127.8.9.1", 5000), local)
    assert _is_local(("::1", 5000, 0, 0), local)  # type: ignore[arg-type]
    assert _is_local(("::ffff:127.0.0.1", 5000, 0, 0), local)  # type: ignore[arg-type]
    assert _is_local(("192.0.2.7", 5000), ("192.0.2.7", 4369))  # the host's own address
    assert not _is_local(("192.0.2.8", 5000), ("192.0.2.7", 4369))
    assert not _is_local(("10.1.2.3", 5000), local)
