"""Event streams driven from a real ``erl`` node through the server, as ecallmgr uses them.

Each stream belongs to an Erlang *owner* process that asks for it with
``{event, Atoms}``, connects with ``gen_tcp`` and ``{packet, N}`` and decodes
every frame with ``binary_to_term``; the events are fired with ``sendevent``
from the same node.
"""

from __future__ import annotations

import itertools

import pytest

from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.kazoo.streams.stream import EventStream
from kazoo_trio.term.types import Atom
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.server_harness import FS, MK, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
E1_ATOM = Atom(E1)

# The owner process: asks for the stream, reports the address, connects when told
# (at once with connect=now), then serves the test: {get, From} receives and decodes
# one frame, {call, From, Req} / {cast, Req} make requests as the stream's owner.
OWNER = """
Owner_{tag} = spawn(fun() ->
  {{ok, {{Ip, Port}}}} = gen_server:call({mk}, {{event, {atoms}}}),
  {parent} ! {{address_{tag}, Ip, Port}},
  receive connect -> ok end,
  {{ok, Addr}} = inet_parse:address(Ip),
  {{ok, S}} = gen_tcp:connect(Addr, Port, [binary, {{packet, {packet}}}, {{active, false}}
                                          {options}]),
  {parent} ! {{connected_{tag}, self()}},
  Loop = fun L() -> receive
      {{get, From}} ->
        From ! {{got_{tag}, case gen_tcp:recv(S, 0, 5000) of
                             {{ok, D}} -> {{ok, binary_to_term(D)}};
                             Other -> Other end}}, L();
      {{drain, From, Last}} ->
        Seqs = (fun Dr(Acc) -> case gen_tcp:recv(S, 0, 10000) of
            {{ok, Data}} ->
              {{event, json, {{Props}}}} = binary_to_term(Data),
              Seq = binary_to_integer(proplists:get_value(<<"Seq">>, Props)),
              case Seq of Last -> lists:reverse([Seq | Acc]); _ -> Dr([Seq | Acc]) end;
            Err -> {{error, Err, lists:reverse(Acc)}} end end)([]),
        From ! {{drained_{tag}, Seqs}}, L();
      {{call, From, Req}} -> From ! {{reply_{tag}, gen_server:call({mk}, Req, 5000)}}, L();
      {{cast, Req}} -> gen_server:cast({mk}, Req), L()
    end end,
  Loop() end),
receive {{address_{tag}, _, P_{tag}}} -> P_{tag} after 5000 -> timeout end.
"""


async def spawn_owner(
    e: ErlNode, tag: str, atoms: str, *, packet: int = 2, connect: bool = True, options: str = ""
) -> int:
    """Start owner ``Owner_<tag>``; returns its stream's port."""
    parent = f"Parent_{tag}"
    await e.eval(f"{parent} = self().")
    port = await e.eval(
        OWNER.format(
            tag=tag,
            mk=MK,
            atoms=atoms,
            parent=parent,
            packet=packet,
            options=(", " + options) if options else "",
        )
    )
    if connect:
        await connect_owner(e, tag)
    return int(port)


async def connect_owner(e: ErlNode, tag: str) -> None:
    reply = await e.eval(
        f"Owner_{tag} ! connect, receive {{connected_{tag}, _}} -> ok after 5000 -> timeout end."
    )
    assert reply == "ok"


_fresh = itertools.count()


def fresh() -> str:
    """A shell variable name not bound yet (shell bindings persist between evaluations)."""
    return f"V{next(_fresh)}"


async def next_event(e: ErlNode, tag: str) -> object:
    """The owner's next frame, decoded (``{error, Reason}`` when none arrives in 5 s)."""
    r = fresh()
    reply = await e.term(
        f"Owner_{tag} ! {{get, self()}},"
        f"receive {{got_{tag}, {r}}} -> {r} after 8000 -> timeout end."
    )
    if isinstance(reply, tuple) and reply[0] == Atom("ok"):
        return reply[1]
    return reply


async def owner_call(e: ErlNode, tag: str, request: str) -> str:
    r = fresh()
    return await e.eval(
        f"Owner_{tag} ! {{call, self(), {request}}},"
        f"receive {{reply_{tag}, {r}}} -> {r} after 5000 -> timeout end."
    )


def fields(event: object) -> dict[bytes, object]:
    assert isinstance(event, tuple) and len(event) == 3, event
    assert (event[0], event[1]) == (Atom("event"), Atom("json")), event
    return dict(event[2][0])


def send(subclass: str, headers: str = "[]") -> str:
    return f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', '{subclass}', {headers}}})"


def streams_of(server: ModKazooServer) -> list[EventStream]:
    return [s for _, s in server.streams.streams_of(E1_ATOM)]


async def set_option(e: ErlNode, option: str, value: str) -> None:
    reply = await e.eval(
        f'gen_server:call({MK}, {{api, erlang, <<"node {E1} option {option} {value}">>}}).'
    )
    assert reply == f'{{ok,<<"+OK {value}">>}}', reply


async def test_framing_4_carries_a_large_event_that_framing_2_cannot(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        await set_option(e, "event-stream-framing", "4")
        await spawn_owner(e, "f4", "['kt::big']", packet=4)
        await set_option(e, "event-stream-framing", "2")
        await spawn_owner(e, "f2", "['kt::big']", packet=2)
        framings = sorted(s.options.framing for s in streams_of(server))
        assert framings == [2, 4]
        await wait_until(lambda: all(s.connected for s in streams_of(server)))
        big = '[{<<"Seq">>, <<"1">>}, {<<"Big">>, binary:copy(<<"0123456789">>, 8000)}]'
        await e.eval(send("kt::big", big) + ".")
        await e.eval(send("kt::big", '[{<<"Seq">>, <<"2">>}]') + ".")
        first = fields(await next_event(e, "f4"))
        assert first[b"Seq"] == b"1" and first[b"Big"] == b"0123456789" * 8000
        assert fields(await next_event(e, "f4"))[b"Seq"] == b"2"
        # Framing 2: the 80 kB event is counted and skipped, never a corrupt frame;
        # the stream goes on with the next event.
        assert fields(await next_event(e, "f2"))[b"Seq"] == b"2"
        (f2,) = [s for s in streams_of(server) if s.options.framing == 2]
        assert f2.stats.events_dropped_too_large == 1


async def test_events_fired_before_the_connect_arrive_after_it(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        await spawn_owner(e, "early", "['kt::early']", connect=False)
        numbered = send("kt::early", '[{<<"Seq">>, integer_to_binary(N)}]')
        await e.eval(f"[{numbered} || N <- lists:seq(1, 5)], ok.")
        (stream,) = streams_of(server)
        await wait_until(lambda: stream.queued_events == 5)
        assert not stream.connected
        await connect_owner(e, "early")
        seqs = [fields(await next_event(e, "early"))[b"Seq"] for _ in range(5)]
        assert seqs == [b"1", b"2", b"3", b"4", b"5"]


async def test_a_slow_reader_loses_the_oldest_events_and_keeps_its_stream(epmd: int) -> None:
    async with (
        running_server(epmd, event_stream_max_bytes=400_000) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        # A small receive buffer and a reader that does not read yet.
        await spawn_owner(e, "slow", "['kt::slow']", options="{recbuf, 4096}")
        (stream,) = streams_of(server)
        await wait_until(lambda: stream.connected)
        total = 600  # 600 events of ~20 kB: far more than the socket buffers and the bound
        padded = send("kt::slow", '[{<<"Seq">>, integer_to_binary(N)}, {<<"Pad">>, Pad}]')
        await e.eval(
            f'Pad = binary:copy(<<"x">>, 20000), [{padded} || N <- lists:seq(1, {total})], ok.'
        )
        await wait_until(lambda: stream.stats.events_queued == total, timeout=20)
        assert stream.stats.events_dropped_overflow > 0
        assert stream.queued_bytes <= 400_000
        seqs = await e.term(
            f"Owner_slow ! {{drain, self(), {total}}},"
            "receive {drained_slow, S} -> S after 30000 -> timeout end."
        )
        assert isinstance(seqs, list), seqs
        # In order, the newest kept, the oldest (not yet on the wire) dropped.
        assert seqs == sorted(seqs) and seqs[-1] == total
        assert len(seqs) + stream.stats.events_dropped_overflow == total
        # The stream is alive: the next event is delivered.
        await e.eval(send("kt::slow", '[{<<"Seq">>, <<"9999">>}]') + ".")
        assert fields(await next_event(e, "slow"))[b"Seq"] == b"9999"
        assert stream.stats.send_errors == 0


async def test_nixevent_and_noevents_from_the_stream_owner(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        port = await spawn_owner(e, "nix", "['CUSTOM', 'a::one', 'a::two', 'DTMF']")
        (stream,) = streams_of(server)
        await wait_until(lambda: stream.connected)
        assert await owner_call(e, "nix", "{nixevent, ['CUSTOM', 'a::one']}") == "ok"
        assert stream.bindings.names() == ["DTMF", "a::two"]
        # Subclasses must follow CUSTOM; an empty list is bad too.
        assert await owner_call(e, "nix", "{nixevent, ['a::two']}") == "{error,badarg}"
        assert await owner_call(e, "nix", "{nixevent, []}") == "{error,badarg}"
        await e.eval(send("a::one", '[{<<"Seq">>, <<"1">>}]') + ".")
        await e.eval(send("a::two", '[{<<"Seq">>, <<"2">>}]') + ".")
        assert fields(await next_event(e, "nix"))[b"Seq"] == b"2"
        # The cast form as ecallmgr's helper sends it: every binding goes, the socket stays.
        await e.eval("Owner_nix ! {cast, noevents}.")
        await wait_until(lambda: not stream.bindings)
        await e.eval(send("a::two", '[{<<"Seq">>, <<"3">>}]') + ".")
        await e.eval(f"gen_server:cast({MK}, {{sendevent, 'DTMF', []}}).")
        # Binding again reuses the same stream and port; the first frame is the marker.
        again = await owner_call(e, "nix", "{event, ['a::marker']}")
        assert again == f'{{ok,{{"127.0.0.1",{port}}}}}'
        await e.eval(send("a::marker", '[{<<"Seq">>, <<"4">>}]') + ".")
        assert fields(await next_event(e, "nix"))[b"Seq"] == b"4"
        assert stream.connected and len(server.streams) == 1


async def test_legacy_and_verbose_fallback_encodings(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        # ALL has no profile definition: events go out verbosely (mod_kazoo crashed).
        await spawn_owner(e, "all", "['ALL']")
        (stream,) = streams_of(server)
        await wait_until(lambda: stream.connected)
        await e.eval(send("kt::any", '[{<<"Seq">>, <<"1">>}, {<<"Enc">>, <<"a%20b">>}]') + ".")
        verbose = fields(await next_event(e, "all"))
        while verbose[b"Event-Name"] != b"CUSTOM":  # e.g. a HEARTBEAT of the switch
            verbose = fields(await next_event(e, "all"))
        assert verbose[b"Event-Subclass"] == b"kt::any" and verbose[b"Seq"] == b"1"
        assert verbose[b"Enc"] == b"a b"  # URL-decoded once
        assert verbose[b"Target-Node"] == E1.encode()
        assert verbose[b"Switch-Nodename"] == FS.encode()
        # enable-legacy applies to the existing stream at once.
        await set_option(e, "enable-legacy", "true")
        await e.eval(send("kt::any", '[{<<"Seq">>, <<"2">>}]') + ".")
        # ALL also carries the API event of that erlang command: skip to the CUSTOM one.
        names = []
        while b"CUSTOM" not in names:
            legacy = await next_event(e, "all")
            assert isinstance(legacy, tuple) and len(legacy) == 2 and legacy[0] == Atom("event")
            unique_id, *headers = legacy[1]
            assert unique_id == Atom("undefined")
            names.append(dict(headers)[b"Event-Name"])
        assert b"API" in names


async def test_map_encoding_from_the_settings(epmd: int) -> None:
    async with (
        running_server(epmd, json_term_encoding="map") as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        await spawn_owner(e, "map", "['kt::map']")
        await wait_until(lambda: all(s.connected for s in streams_of(server)))
        await e.eval(send("kt::map", '[{<<"Seq">>, <<"1">>}]') + ".")
        event = await next_event(e, "map")
        assert isinstance(event, tuple) and event[:2] == (Atom("event"), Atom("map"))
        assert event[2][b"Seq"] == b"1"


CONNECT_FROM = (
    "{{ok, Sock_{tag}}} = gen_tcp:connect({{127,0,0,1}}, {port},"
    " [binary, {{packet, 2}}, {{active, false}}, {{ip, {{127,0,0,2}}}}]),"
    "gen_server:cast({mk}, {{sendevent, 'CUSTOM', 'kt::who', []}}),"
    "case gen_tcp:recv(Sock_{tag}, 0, 3000) of {{ok, _}} -> delivered; Other -> Other end."
)


@pytest.mark.parametrize(
    ("clients", "expected"),
    [((), "{error,closed}"), (("any",), "delivered"), (("node", "127.0.0.2"), "delivered")],
)
async def test_stream_clients_from_other_hosts(
    epmd: int, clients: tuple[str, ...], expected: str
) -> None:
    async with (
        running_server(epmd, event_stream_clients=clients or ("node",)) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        port = await spawn_owner(e, "host", "['kt::who']", connect=False)
        # The node connected from 127.0.0.1; this client comes from 127.0.0.2.
        reply = await e.eval(CONNECT_FROM.format(tag="h", port=port, mk=MK), timeout=10)
        assert reply == expected
        (stream,) = streams_of(server)
        assert stream.stats.clients_refused == (1 if expected != "delivered" else 0)


async def test_reply_address_is_the_local_end_of_the_distribution_connection(
    epmd: int,
) -> None:
    # Listening on every address: the reply names the one this node connected to.
    async with running_server(epmd, listen_ip="0.0.0.0"), erl_node(E1, epmd_port=epmd) as e:
        reply = await e.eval(
            f"{{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['kt::addr']}}),"
            "{io_lib:printable_list(Ip), inet_parse:address(Ip), is_integer(Port)}."
        )
        assert reply == "{true,{ok,{127,0,0,1}},true}"


async def test_each_stream_decodes_its_own_copy_once(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        await spawn_owner(e, "d1", "['kt::enc']")
        await spawn_owner(e, "d2", "['kt::enc']")
        await wait_until(lambda: len(streams_of(server)) == 2)
        await wait_until(lambda: all(s.connected for s in streams_of(server)))
        await e.eval(send("kt::enc", '[{<<"Enc">>, <<"%2541">>}]') + ".")
        # mod_kazoo decoded the shared event in place per stream: %2541 -> %41 -> A.
        assert fields(await next_event(e, "d1"))[b"Enc"] == b"%41"
        assert fields(await next_event(e, "d2"))[b"Enc"] == b"%41"
