"""Event streams against real ``gen_tcp`` receivers in a plain ``erl``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from kazoo_trio.kazoo.streams.encoding import LegacyFilter
from kazoo_trio.kazoo.streams.stream import EventStream, StreamOptions, client_allowed
from kazoo_trio.switch.event import Event
from tests.erlnode import ErlNode, erl_node
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

TARGET = "ecallmgr@10.0.0.7"
SWITCH = "freeswitch@fs1.example.com"

# Erlang helpers bound once per node.  Seq(T) is the "Seq" header of a verbose JSON or
# legacy event; RecvSeqs(S, K) reads K frames; RecvUntil(S, Last) reads until that Seq.
ERL_HELPERS = """
Seq = fun({event, json, {Fs}}) -> binary_to_integer(proplists:get_value(<<"Seq">>, Fs));
         ({event, [_ | Ps]}) -> binary_to_integer(proplists:get_value(<<"Seq">>, Ps)) end,
RecvSeqs = fun R(_, 0) -> [];
               R(S, K) -> {ok, B} = gen_tcp:recv(S, 0, 10000),
                          [Seq(binary_to_term(B)) | R(S, K - 1)]
           end,
RecvUntil = fun R(S, Last) ->
                {ok, B} = gen_tcp:recv(S, 0, 10000),
                case Seq(binary_to_term(B)) of Last -> [Last]; N -> [N | R(S, Last)] end
            end,
ok.
"""


def event(
    seq: int,
    *,
    name: str = "CHANNEL_CREATE",
    pad: int = 0,
    tiny: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> Event:
    headers = [("Event-Name", name), ("Seq", str(seq))]
    if not tiny:  # tiny ones fit framing 1 (255 bytes)
        headers[1:1] = [
            ("Unique-ID", f"uuid-{seq}"),
            ("Event-Date-Timestamp", str(1_700_000_000_000_000 + seq)),
        ]
    if pad:
        headers.append(("Pad", "p" * pad))
    headers += extra
    return Event(name, headers)


def new_stream(**options: object) -> EventStream:
    stream = EventStream(
        StreamOptions(**options),  # type: ignore[arg-type]
        target_node=TARGET,
        switch_nodename=SWITCH,
        listen_ip="127.0.0.1",
        label="<test>",
    )
    stream.bindings.add(["CHANNEL_CREATE"])
    return stream


@asynccontextmanager
async def running(stream: EventStream) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(stream.run)
        assert host == "127.0.0.1"
        yield port
        await stream.aclose()


@asynccontextmanager
async def erl() -> AsyncIterator[ErlNode]:
    async with erl_node() as node:
        await node.eval(ERL_HELPERS)
        yield node


async def connect(n: ErlNode, var: str, port: int, framing: int, extra: str = "") -> None:
    opts = f"[binary, {{packet, {framing}}}, {{active, false}}{extra}]"
    await n.eval(f'{{ok, {var}}} = gen_tcp:connect("127.0.0.1", {port}, {opts}).')


async def seqs(n: ErlNode, expr: str, timeout: float = 20) -> list[int]:
    """The list of Seq numbers ``expr`` returns (decoded: erl prints [51] as "3")."""
    return [int(x) for x in await n.term(expr, timeout=timeout)]


@pytest.mark.parametrize("framing", [1, 2, 4])
async def test_framing_matches_erlang_packet_option(framing: int) -> None:
    stream = new_stream(framing=framing)
    async with erl() as n, running(stream) as port:
        await connect(n, "S", port, framing)
        await wait_until(lambda: stream.connected)
        for seq in (1, 2, 3):
            stream.offer(event(seq, tiny=True))
        assert await seqs(n, "RecvSeqs(S, 3).") == [1, 2, 3]
        if framing == 1:
            # Does not fit 255 bytes: counted, not sent, and the stream carries on.
            stream.offer(event(4, pad=300))
            stream.offer(event(5, tiny=True))
            assert await seqs(n, "RecvSeqs(S, 1).") == [5]
            assert stream.stats.events_dropped_too_large == 1
        assert stream.stats.events_dropped_too_large == (1 if framing == 1 else 0)


async def test_large_event_is_intact_over_framing_4_and_counted_over_framing_2() -> None:
    big = event(1, pad=70_000)
    wide = new_stream(framing=4)
    narrow = new_stream(framing=2)
    async with erl() as n, running(wide) as wide_port, running(narrow) as narrow_port:
        await connect(n, "W", wide_port, 4)
        await connect(n, "N", narrow_port, 2)
        await wait_until(lambda: wide.connected and narrow.connected)
        for stream in (wide, narrow):
            stream.offer(big)
            stream.offer(event(2))
        assert (
            await n.eval(
                "{ok, B1} = gen_tcp:recv(W, 0, 10000),"
                " {event, json, {Fs}} = binary_to_term(B1),"
                ' P = proplists:get_value(<<"Pad">>, Fs),'
                ' {byte_size(B1) > 70000, P =:= binary:copy(<<"p">>, 70000), RecvSeqs(W, 1)}.'
            )
            == "{true,true,[2]}"  # [2] is not printable, so ~p prints it as a list
        )
        assert await seqs(n, "RecvSeqs(N, 1).") == [2]
        assert narrow.stats.events_dropped_too_large == 1
        # The sender counts a frame once its send call returns, just after erl got it.
        await wait_until(lambda: narrow.stats.events_sent == 1)
        assert wide.stats.events_dropped_too_large == 0
        await wait_until(lambda: wide.stats.events_sent == 2)


async def test_events_before_connect_are_delivered_in_order() -> None:
    stream = new_stream(framing=4)
    async with erl() as n, running(stream) as port:
        for seq in range(1, 51):
            stream.offer(event(seq))
        assert stream.queued_events == 50
        await connect(n, "S", port, 4)
        assert await seqs(n, "RecvSeqs(S, 50).") == list(range(1, 51))
        stream.offer(event(51))
        assert await seqs(n, "RecvSeqs(S, 1).") == [51]
        await wait_until(lambda: stream.stats.events_sent == 51)


async def test_slow_reader_drops_oldest_and_the_stream_survives() -> None:
    stream = new_stream(framing=4, max_events=40)
    offered = 0
    async with erl() as n, running(stream) as port:
        await connect(n, "S", port, 4, ", {recbuf, 4096}")
        await wait_until(lambda: stream.connected)
        # erl does not read: the socket buffers fill up, then the queue overflows.
        with trio.fail_after(30):
            while stream.stats.events_dropped_overflow < 200:
                offered += 1
                stream.offer(event(offered, pad=2000))
                await trio.sleep(0)  # a checkpoint: the sender writes between offers
        assert stream.queued_events == 40
        assert stream.connected
        got = await seqs(n, f"RecvUntil(S, {offered}).", timeout=30)
        assert got == sorted(set(got))
        assert got[-40:] == list(range(offered - 39, offered + 1))  # the newest all arrived
        assert len(got) + stream.stats.events_dropped_overflow == offered
        await wait_until(lambda: stream.stats.events_sent == len(got))
        assert stream.stats.send_errors == 0
        stream.offer(event(offered + 1))
        assert await seqs(n, "RecvSeqs(S, 1).") == [offered + 1]


async def test_a_byte_bound_drops_oldest_too() -> None:
    stream = new_stream(framing=4, max_bytes=20_000)
    async with running(stream):
        for seq in range(1, 31):
            stream.offer(event(seq, pad=1000))
        assert stream.queued_bytes <= 20_000
        assert stream.queued_events + stream.stats.events_dropped_overflow == 30
        assert stream.stats.events_dropped_overflow > 0


async def test_new_client_replaces_old_and_gets_the_unwritten_events() -> None:
    stream = new_stream(framing=4)
    async with erl() as n, running(stream) as port:
        await connect(n, "S1", port, 4, ", {recbuf, 4096}")
        await wait_until(lambda: stream.connected)
        offered = 0
        with trio.fail_after(30):
            while stream.queued_events < 20:  # S1 is not reading: frames pile up here
                offered += 1
                stream.offer(event(offered, pad=2000))
                await trio.sleep(0)  # a checkpoint: the sender writes between offers
        unwritten_from = offered - stream.queued_events + 1
        await connect(n, "S2", port, 4)
        await wait_until(lambda: stream.stats.clients_replaced == 1)
        got = await seqs(n, f"RecvUntil(S2, {offered}).", timeout=30)
        # Consecutive up to the last: nothing queued was lost; the batch that was in
        # flight to S1 (possibly half written) is sent again, whole, to S2.
        assert got == list(range(got[0], offered + 1))
        assert got[0] <= unwritten_from
        assert stream.stats.events_dropped_overflow == 0
        # The replaced client was closed: after what it had buffered, the end.
        drained = await n.eval(
            "(fun D() -> case gen_tcp:recv(S1, 0, 10000) of {ok, _} -> D(); E -> E end end)()."
        )
        assert drained in ("{error,closed}", "{error,econnreset}")


async def test_client_from_a_host_not_allowed_is_refused() -> None:
    stream = new_stream(framing=4, allowed_hosts=frozenset({"10.9.9.9"}))
    async with erl() as n, running(stream) as port:
        stream.offer(event(1))
        await connect(n, "S", port, 4)
        assert await n.eval("gen_tcp:recv(S, 0, 10000).") in (
            "{error,closed}",
            "{error,econnreset}",
        )
        await wait_until(lambda: stream.stats.clients_refused == 1)
        assert not stream.connected
        assert stream.queued_events == 1  # kept for an allowed client


def test_client_allowed_policy() -> None:
    local = frozenset({"10.1.2.3"})
    assert client_allowed("10.1.2.3", local)
    assert not client_allowed("10.1.2.4", local)
    assert client_allowed("::ffff:10.1.2.3", local)
    assert client_allowed("2001:db8::1", frozenset({"2001:DB8:0::1"}))
    assert not client_allowed("2001:db8::2", frozenset({"2001:db8::1"}))
    assert client_allowed("192.0.2.1", None)
    assert not client_allowed("192.0.2.1", frozenset())


async def test_client_going_away_keeps_the_stream_and_its_queue() -> None:
    stream = new_stream(framing=2)
    async with erl() as n, running(stream) as port:
        await connect(n, "S1", port, 2)
        stream.offer(event(1))
        assert await seqs(n, "RecvSeqs(S1, 1).") == [1]
        # An abortive close (RST): the next write to it fails or the watcher sees it first.
        await n.eval("inet:setopts(S1, [{linger, {true, 0}}]), gen_tcp:close(S1).")
        await wait_until(lambda: not stream.connected)
        for seq in (2, 3):
            stream.offer(event(seq))
        await connect(n, "S2", port, 2)
        assert await seqs(n, "RecvSeqs(S2, 2).") == [2, 3]
        assert stream.stats.clients_accepted == 2
        assert stream.stats.clients_replaced == 0


async def test_encoding_follows_the_legacy_option_at_each_event() -> None:
    legacy = [False]
    stream = EventStream(
        StreamOptions(framing=4, legacy=lambda: legacy[0]),
        target_node=TARGET,
        switch_nodename=SWITCH,
        listen_ip="127.0.0.1",
        legacy_filter=LegacyFilter(event_filter=frozenset({"Seq", "Event-Name", "Unique-ID"})),
    )
    stream.bindings.add(["CHANNEL_CREATE"])
    shared = event(1, extra=(("X-Encoded", "a%2541"), ("Target-Node", "spoof")))
    before = shared.headers
    async with erl() as n, running(stream) as port:
        await connect(n, "S", port, 4)
        stream.offer(shared)
        legacy[0] = True
        stream.offer(shared)
        json_text = await n.eval(
            "{ok, J} = gen_tcp:recv(S, 0, 10000), {event, json, {Fs}} = binary_to_term(J),"
            ' [proplists:get_value(K, Fs) || K <- [<<"Seq">>, <<"X-Encoded">>,'
            ' <<"Switch-Nodename">>, <<"Event-Timestamp">>]]'
            ' ++ [proplists:get_all_values(<<"Target-Node">>, Fs)].'
        )
        # The event's own Target-Node is replaced, not repeated.
        assert json_text == (
            f'[<<"1">>,<<"a%41">>,<<"{SWITCH}">>,1700000000000001,[<<"{TARGET}">>]]'
        )
        legacy_text = await n.eval(
            "{ok, L} = gen_tcp:recv(S, 0, 10000), {event, [U | Ps]} = binary_to_term(L), {U, Ps}."
        )
        assert legacy_text == (
            '{<<"uuid-1">>,[{<<"Event-Name">>,<<"CHANNEL_CREATE">>},'
            '{<<"Unique-ID">>,<<"uuid-1">>},{<<"Seq">>,<<"1">>},{<<"X-Encoded">>,<<"aA">>}]}'
        )
    assert shared.headers is before
    assert shared.get("X-Encoded") == "a%2541"


async def test_one_event_offered_to_two_streams_is_decoded_once_for_each() -> None:
    a, b = new_stream(framing=4), new_stream(framing=4)
    b.bindings.clear()
    b.bindings.add(["ALL"])
    shared = event(7, extra=(("X-Encoded", "a%2541"),))
    async with erl() as n, running(a) as port_a, running(b) as port_b:
        await connect(n, "A", port_a, 4)
        await connect(n, "B", port_b, 4)
        a.offer(shared)
        b.offer(shared)
        query = (
            "{{ok, {v}{v}}} = gen_tcp:recv({v}, 0, 10000), {{event, json, {{{v}F}}}} ="
            ' binary_to_term({v}{v}), proplists:get_value(<<"X-Encoded">>, {v}F).'
        )
        assert await n.eval(query.format(v="A")) == '<<"a%41">>'
        assert await n.eval(query.format(v="B")) == '<<"a%41">>'
    assert shared.get("X-Encoded") == "a%2541"


async def test_unbound_events_are_ignored_and_profile_filters_counted() -> None:
    stream = new_stream(framing=4)
    stream.offer(event(1, name="CHANNEL_DESTROY"))
    assert stream.stats.events_queued == 0

    def declining(event: Event, binding: str | None, encoding: str) -> object:
        return None

    stream.json_encoder = declining
    stream.offer(event(2))
    assert stream.stats.events_filtered == 1

    def broken(event: Event, binding: str | None, encoding: str) -> object:
        raise KeyError("no such field")

    stream.json_encoder = broken
    stream.offer(event(3))
    assert stream.stats.events_dropped_error == 1
    assert stream.queued_events == 0


async def test_aclose_closes_listener_and_ignores_later_events() -> None:
    stream = new_stream(framing=4)
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(stream.run)
        stream.offer(event(1))
        await stream.aclose()
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
    stream.offer(event(2))
    assert stream.queued_events == 0
    assert stream.stats.events_queued == 1


async def test_cancelling_run_closes_the_client() -> None:
    stream = new_stream(framing=4)
    async with erl() as n:
        async with trio.open_nursery() as nursery:
            _, port = await nursery.start(stream.run)
            await connect(n, "S", port, 4)
            await wait_until(lambda: stream.connected)
            nursery.cancel_scope.cancel()
        assert await n.eval("gen_tcp:recv(S, 0, 10000).") in (
            "{error,closed}",
            "{error,econnreset}",
        )


@pytest.mark.parametrize(("keepalive", "nodelay"), [(True, True), (False, False)])
async def test_client_socket_options_follow_the_stream_options(
    keepalive: bool, nodelay: bool
) -> None:
    stream = new_stream(framing=2, keepalive=keepalive, nodelay=nodelay)
    async with running(stream) as port:
        client = await trio.open_tcp_stream("127.0.0.1", port)
        async with client:
            await wait_until(lambda: stream.connected)
            sock = stream._client.sock  # type: ignore[union-attr]  # the accepted socket
            assert bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)) is keepalive
            assert bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) is nodelay


async def test_send_error_closes_that_client_and_keeps_the_event_for_the_next() -> None:
    stream = new_stream(framing=2)
    async with erl() as n, running(stream) as port:
        await connect(n, "S1", port, 2)
        await wait_until(lambda: stream.connected)
        # White box: shut our sending side so that the next write fails with EPIPE,
        # which the peer cannot provoke deterministically.
        stream._client.sock.shutdown(socket.SHUT_WR)  # type: ignore[union-attr]
        stream.offer(event(1))
        await wait_until(lambda: stream.stats.send_errors == 1)
        assert not stream.connected
        assert stream.queued_events == 1  # nothing of it was written: it waits
        await connect(n, "S2", port, 2)
        assert await seqs(n, "RecvSeqs(S2, 1).") == [1]
        await wait_until(lambda: stream.stats.events_sent == 1)
