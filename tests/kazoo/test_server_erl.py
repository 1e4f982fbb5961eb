"""Concurrency, background jobs and cleanup of the server, driven from real ``erl`` nodes."""

from __future__ import annotations

import socket

import pytest
import trio

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.server_harness import FS, MK, add_test_commands, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
IP = "127.0.0.1"


class Gate:
    """An API command ``kt_gate`` that waits until released; counts who runs at once."""

    def __init__(self, switch: SimSwitch) -> None:
        self.running = 0
        self.most = 0
        self.cancelled = 0
        self.release = trio.Event()
        switch.register_api("kt_gate", self._run)

    async def _run(self, args: str) -> ApiOutput:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.release.wait()
        except trio.Cancelled:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        return ApiOutput(f"+OK passed {args}")


async def test_concurrency_is_bounded_over_all_senders(epmd: int) -> None:
    switch = SimSwitch()
    gate = Gate(switch)
    async with (
        running_server(epmd, switch, max_concurrent_requests=2) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        await e.eval(
            "Shell = self(),"
            "[spawn(fun() -> Shell ! {passed, N,"
            f"  gen_server:call({MK}, {{api, kt_gate, integer_to_binary(N)}}, 10000)}} end)"
            " || N <- lists:seq(1, 4)], ok."
        )
        # All four are queued; two run, two wait for capacity.
        await wait_until(lambda: gate.running == 2 and server.lanes() == 4)
        await wait_until(lambda: server._limiter.statistics().tasks_waiting == 2)
        # Quick requests of other senders are not held up by the bound.
        with trio.fail_after(2):
            assert (await e.eval(f"gen_server:call({MK}, version).")).startswith("{ok,")
        gate.release.set()
        replies = await e.eval(
            "lists:sort([receive {passed, N, R} -> {N, R} after 5000 -> timeout end"
            " || N <- lists:seq(1, 4)])."
        )
        assert replies == (
            '[{1,{ok,<<"+OK passed 1">>}},{2,{ok,<<"+OK passed 2">>}},'
            '{3,{ok,<<"+OK passed 3">>}},{4,{ok,<<"+OK passed 4">>}}]'
        )
        assert gate.most == 2


async def test_fetch_reply_is_not_queued_behind_the_senders_slow_api(epmd: int) -> None:
    switch = SimSwitch()
    gate = Gate(switch)
    async with running_server(epmd, switch) as server, erl_node(E1, epmd_port=epmd) as e:
        # The handler first casts a slow api, then must answer a lookup: its
        # fetch_reply call is answered although its own api is still running.
        await e.eval(
            "Shell = self(),"
            "H = spawn(fun() ->"
            f"  ok = gen_server:call({MK}, {{bind, directory}}),"
            f'  gen_server:cast({MK}, {{api, kt_gate, <<"slow">>}}),'
            "  Shell ! ready,"
            "  receive {fetch, {Props}} ->"
            '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
            f"    Shell ! {{replied, gen_server:call({MK}, {{fetch_reply, directory, U,"
            ' <<"<document type=\\"freeswitch/xml\\"><section name=\\"directory\\">'
            '<domain name=\\"example.com\\"/></section></document>">>}, 2000)}'
            "  end end),"
            "receive ready -> ok after 5000 -> timeout end."
        )
        await wait_until(lambda: gate.running == 1)
        with trio.fail_after(5):
            located = await e.eval(
                f"gen_server:call({MK}, {{api, xml_locate,"
                ' <<"directory domain name example.com">>}, 5000).'
            )
        assert "example.com" in located and located.startswith("{ok,")
        assert await e.eval("receive {replied, R} -> R after 5000 -> timeout end.") == "ok"
        assert gate.running == 1  # still blocked
        gate.release.set()
        await wait_until(lambda: server.lanes() == 0)


async def test_bgapi_jobs_of_a_disconnected_node_are_cancelled(epmd: int) -> None:
    switch = SimSwitch()
    gate = Gate(switch)
    async with (
        running_server(epmd, switch, bgapi_timeout=60) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        reply = await e.eval(f'{{ok, J}} = gen_server:call({MK}, {{bgapi, kt_gate, <<"x">>}}), J.')
        assert len(reply) == len('<<"">>') + 36
        await wait_until(lambda: gate.running == 1 and server.bgapi.running() == 1)
        assert await e.eval(f"erlang:disconnect_node('{FS}').") == "true"
        await wait_until(lambda: server.bgapi.running() == 0 and gate.cancelled == 1)
        assert gate.running == 0


async def test_bgapi_deadline_from_the_settings(epmd: int) -> None:
    switch = SimSwitch()
    Gate(switch)
    async with running_server(epmd, switch, bgapi_timeout=0.2), erl_node(E1, epmd_port=epmd) as e:
        reply = await e.eval(
            f'{{ok, J}} = gen_server:call({MK}, {{bgapi, kt_gate, <<"x">>}}),'
            "receive {bgerror, J, R} -> R after 5000 -> timeout end."
        )
        assert reply == '<<"-ERR kt_gate: timed out after 0.2 s">>'


async def owner_with_port(e: ErlNode, atoms: str) -> int:
    """``Owner`` asks for a stream and then waits; the shell gets the port."""
    port = await e.eval(
        "Shell = self(),"
        "Owner = spawn(fun() ->"
        f"  {{ok, {{_, P}}}} = gen_server:call({MK}, {{event, {atoms}}}),"
        "  Shell ! {port, P}, receive stop -> ok end end),"
        "receive {port, Port} -> Port after 5000 -> timeout end."
    )
    return int(port)


async def refused(port: int) -> bool:
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    except OSError:
        return True
    await stream.aclose()
    return False


async def test_owner_death_closes_listener_and_client(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        port = await owner_with_port(e, "['kt::x']")
        # The client socket belongs to the shell, so only the switch side can close it.
        await e.eval(
            f"{{ok, S}} = gen_tcp:connect({{127,0,0,1}}, {port}, [binary, {{packet, 2}},"
            " {active, false}])."
        )
        await wait_until(
            lambda: len(server.streams) == 1 and server.streams.streams_of(Atom(E1))[0][1].connected
        )
        await e.eval("exit(Owner, kill).")
        assert await e.eval("gen_tcp:recv(S, 0, 5000).") == "{error,closed}"
        assert (
            await e.eval(f"gen_tcp:connect({{127,0,0,1}}, {port}, [binary]).")
            == "{error,econnrefused}"
        )
        assert len(server.streams) == 0


async def test_node_disconnect_closes_its_listeners(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        port = await owner_with_port(e, "['kt::x']")
        assert not await refused(port)
        assert await e.eval(f"erlang:disconnect_node('{FS}').") == "true"
        await wait_until(lambda: len(server.streams) == 0)
        assert await refused(port)


async def test_socket_options_follow_the_connection_option(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        for value, expected in (("false", 0), ("true", 1)):
            option = f"node {E1} option event-stream-keepalive {value}"
            assert (
                await e.eval(f'gen_server:call({MK}, {{api, erlang, <<"{option}">>}}).')
                == f'{{ok,<<"+OK {expected}">>}}'
            )
            port = await e.eval(
                "Sh = self(),"
                "spawn(fun() ->"
                f"  {{ok, {{_, P}}}} = gen_server:call({MK}, {{event, ['kt::ka']}}),"
                "  {ok, S} = gen_tcp:connect({127,0,0,1}, P, [binary, {packet, 2}]),"
                "  Sh ! {ka, P}, receive stop -> S end end),"
                f"receive {{ka, Pk{expected}}} -> Pk{expected} after 5000 -> timeout end.",
            )
            (stream,) = [
                s for _, s in server.streams.streams_of(Atom(E1)) if s.address == (IP, int(port))
            ]
            await wait_until(lambda s=stream: s.connected)
            client = stream._client
            assert client is not None
            sock = client.sock
            assert bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)) == bool(expected)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_a_new_client_replaces_the_old_one(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        port = await owner_with_port(e, "['kt::r']")
        opts = "[binary, {packet, 2}, {active, false}]"
        await e.eval(f"{{ok, A}} = gen_tcp:connect({{127,0,0,1}}, {port}, {opts}).")
        (stream,) = [s for _, s in server.streams.streams_of(Atom(E1))]
        await wait_until(lambda: stream.stats.clients_accepted == 1)
        await e.eval(f"{{ok, B}} = gen_tcp:connect({{127,0,0,1}}, {port}, {opts}).")
        await wait_until(lambda: stream.stats.clients_replaced == 1)
        assert await e.eval("gen_tcp:recv(A, 0, 5000).") == "{error,closed}"
        await e.eval(f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'kt::r', []}}).")
        assert (
            await e.eval(
                "{ok, D} = gen_tcp:recv(B, 0, 5000), {event, json, {Ps}} = binary_to_term(D),"
                ' proplists:get_value(<<"Event-Subclass">>, Ps).'
            )
            == '<<"kt::r">>'
        )


async def test_per_sender_order_of_casts_with_several_senders(epmd: int) -> None:
    """Each of three processes casts a slow request then numbered events: each
    sender's events arrive in its order, whatever the interleaving between senders."""
    switch = SimSwitch()
    log: list[str] = []
    add_test_commands(switch, log)
    seen: dict[str, list[int]] = {}

    def record(event: object) -> None:
        subclass = getattr(event, "subclass", None)
        if subclass == "kt::ord":
            who, seq = event.get("Who"), event.get("Seq")  # type: ignore[attr-defined]
            seen.setdefault(who, []).append(int(seq))

    switch.add_listener(record)
    async with running_server(epmd, switch), erl_node(E1, epmd_port=epmd) as e:
        await e.eval(
            "[spawn(fun() ->"
            f'  gen_server:cast({MK}, {{api, kt_sleep, <<"0.1">>}}),'
            f"  [gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'kt::ord', [{{<<\"Who\">>,"
            ' integer_to_binary(W)}, {<<"Seq">>, integer_to_binary(N)}]}) || N <- lists:seq(1, 30)]'
            " end) || W <- lists:seq(1, 3)], ok."
        )
        await wait_until(lambda: sum(map(len, seen.values())) == 90)
        assert seen == {str(w): list(range(1, 31)) for w in (1, 2, 3)}
        assert log.count("sleep 0.1") == 3


async def test_legacy_fetch_request_from_erl(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        option = f"node {E1} option enable-legacy true"
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, erlang, <<"{option}">>}}).')
            == '{ok,<<"+OK true">>}'
        )
        await e.eval(
            "Shell = self(),"
            "spawn(fun() ->"
            f"  ok = gen_server:call({MK}, {{bind, directory}}),"
            "  Shell ! bound,"
            "  receive {fetch, Section, Tag, Key, Value, U, [Uid | Headers]} ->"
            "    Shell ! {legacy, Section, Tag, Key, Value, byte_size(U), Uid,"
            '      proplists:get_value(<<"Fetch-UUID">>, Headers) =:= U},'
            f"    ok = gen_server:call({MK}, {{fetch_reply, directory, U,"
            ' <<"<document type=\\"freeswitch/xml\\"><section name=\\"directory\\">'
            '<domain name=\\"legacy.example.com\\"/></section></document>">>})'
            "  end end),"
            "receive bound -> ok after 5000 -> timeout end."
        )
        located = await e.eval(
            f"gen_server:call({MK}, {{api, xml_locate,"
            ' <<"directory domain name legacy.example.com">>}, 5000).'
        )
        assert "legacy.example.com" in located and located.startswith("{ok,")
        assert (
            await e.eval("receive {legacy, _, _, _, _, _, _, _} = L -> L after 5000 -> none end.")
            == '{legacy,directory,<<"domain">>,<<"name">>,<<"legacy.example.com">>,36,'
            "undefined,true}"
        )
        assert server.fetch.pending_count() == 0
