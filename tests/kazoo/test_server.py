"""The mod_kazoo server driven from a real ``erl`` node, the way ecallmgr drives it."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom
from tests.erlnode import erl_node
from tests.kazoo.server_harness import FS, MK, add_test_commands, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"


async def test_identity_requests_and_errors(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(f"net_adm:ping('{FS}').") == "pong"
        assert (
            await e.eval(f"gen_server:call({MK}, version, 5000).")
            == '{ok,<<"mod_kazoo v1.5.0-1 community">>}'
        )
        # ecallmgr's own check of the release.
        assert (
            await e.eval(
                f"{{ok, V}} = gen_server:call({MK}, version),"
                '[_, R, _] = binary:split(V, <<" ">>, [global]), R > <<"v1.5">>.'
            )
            == "true"
        )
        pid = await e.eval(f"{{ok, P}} = gen_server:call({MK}, getpid), node(P).")
        assert pid == f"'{FS}'"
        # getpid's pid is the mod_kazoo process itself: requests sent to it are answered.
        assert (
            await e.eval("gen_server:call(P, version) =:= gen_server:call(" + MK + ", version).")
            == "true"
        )
        for request, reply in [
            ("no_legacy", "{error,badarg}"),
            ("api", "{error,badarg}"),
            ("{api, status}", "{error,badarg}"),
            ('{sendmsg, <<"nope">>, []}', "{error,baduuid}"),
            ('{command, "", []}', "{error,baduuid}"),
            ("{bind, nothing}", "{error,badarg}"),
            ("{event, []}", "{error,badarg}"),
            ('{fetch_reply, directory, <<"u">>, <<"<x/>">>}', "{error,baduuid}"),
            ('{json_api, <<"{">>}', "{error,{parse_error,<<>>}}"),
            ("config", "ok"),
            ("noevents", "ok"),
        ]:
            assert await e.eval(f"gen_server:call({MK}, {request}, 5000).") == reply, request
        # Anything else sent to mod_kazoo is dropped without harm.
        await e.eval(f"{MK} ! hello, gen_server:cast({MK}, bogus).")
        assert await e.eval(f"gen_server:call({MK}, version, 5000) =/= x.") == "true"
        # Every request above was answered: no sender has anything queued.
        await wait_until(lambda: server.lanes() == 0)


async def test_api_and_the_erlang_command(epmd: int) -> None:
    settings_variables = (("kt_var", "from settings"),)
    async with (
        running_server(epmd, variables=settings_variables),
        erl_node(E1, epmd_port=epmd) as e,
    ):
        # <variables> of the settings are switch globals.
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, global_getvar, <<"kt_var">>}}).')
            == '{ok,<<"from settings">>}'
        )
        status = await e.term(f"gen_server:call({MK}, {{api, status, <<>>}}, 5000).")
        assert status[0].name == "ok" and status[1].startswith(b"UP ")
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, no_such_command, ""}}, 5000).')
            == '{error,<<"no_such_command: Command not found">>}'
        )
        # What ecallmgr does right after connecting.
        option = "option enable-legacy false"
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, erlang, <<"node {E1} {option}">>}}).')
            == '{ok,<<"+OK false">>}'
        )
        framing = "option event-stream-framing 4"
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, erlang, <<"node {E1} {framing}">>}}).')
            == '{ok,<<"+OK 4">>}'
        )
        assert (
            await e.eval(f'gen_server:call({MK}, {{api, erlang, <<"node other@x {option}">>}}).')
            == '{ok,<<"erlang: Command returned no output">>}'
        )
        await e.eval(
            f"ok = gen_server:call({MK}, {{bind, dialplan}}),"
            f"{{ok, _}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE', 'KZ_CDR']}})."
        )
        status = await e.term(f'gen_server:call({MK}, {{api, erlang, <<"status">>}}).')
        assert b"Running mod_kazoo v1.5.0-1 community" in status[1]
        assert b"Event streams: 1" in status[1]
        nodes = await e.term(f'gen_server:call({MK}, {{api, erlang, <<"nodes list">>}}).')
        assert nodes[1] == E1.encode() + b"\n"
        for what, expected in [
            ("connection", b"enable-legacy false"),
            ("event_streams", b"bindings=CHANNEL_CREATE,KZ_CDR"),
            ("fetch_bindings", b"dialplan"),
        ]:
            text = await e.term(f'gen_server:call({MK}, {{api, erlang, <<"node {E1} {what}">>}}).')
            assert expected in text[1], (what, text)


async def test_bgapi_result_messages(epmd: int) -> None:
    switch = SimSwitch()
    add_test_commands(switch, [])
    async with running_server(epmd, switch), erl_node(E1, epmd_port=epmd) as e:
        reply = await e.eval(
            f'{{ok, J}} = gen_server:call({MK}, {{bgapi, kt_sleep, <<"0.05">>}}),'
            "receive {bgok, J, R} -> {job, byte_size(J), R} after 5000 -> timeout end."
        )
        assert reply == '{job,36,<<"+OK slept 0.05">>}'
        reply = await e.eval(
            f"{{ok, J2}} = gen_server:call({MK}, {{bgapi, no_such_command, <<>>}}),"
            "receive {bgerror, J2, R2} -> R2 after 5000 -> timeout end."
        )
        assert reply == '<<"no_such_command: Command not found">>'
        reply = await e.eval(
            f"{{ok, J3}} = gen_server:call({MK}, {{bgapi4, status, <<>>}}),"
            "receive {bgok, J3, R3, H} -> {binary:part(R3, 0, 3), "
            'proplists:get_value(<<"API-Command">>, tl(H))} after 5000 -> timeout end.'
        )
        assert reply == '{<<"UP ">>,<<"status">>}'


async def test_event_stream_delivery_and_owner_death(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        # The stream owner is a separate process, as in ecallmgr.
        await e.eval(
            "Parent = self(),"
            "Owner = spawn(fun() ->"
            f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CUSTOM', 'my::sub']}}),"
            "  {ok, Addr} = inet_parse:address(Ip),"
            "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, false}]),"
            "  Parent ! {connected, self()},"
            "  Loop = fun L() -> receive {get, From} ->"
            "    From ! {got, gen_tcp:recv(S, 0, 5000)}, L() end end,"
            "  Loop() end),"
            "receive {connected, Owner} -> ok after 5000 -> timeout end."
        )
        await wait_until(lambda: any(s.connected for _, s in server.streams.streams_of(_e1())))
        sent = (
            f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'my::sub', "
            '[{<<"Seq">>, <<"1">>}, {<<"Empty">>, <<>>}, {<<"After">>, "x"}]}).'
        )
        assert await e.eval(sent) == "ok"
        event = await e.term(
            "Owner ! {get, self()},"
            "receive {got, {ok, Data}} -> binary_to_term(Data) after 5000 -> timeout end."
        )
        tag, encoding, jobj = event
        assert (tag.name, encoding.name) == ("event", "json")
        fields = dict(jobj[0])
        assert fields[b"Event-Subclass"] == b"my::sub"
        assert fields[b"Seq"] == b"1" and fields[b"After"] == b"x"
        assert fields[b"Target-Node"] == E1.encode()
        assert fields[b"Switch-Nodename"] == FS.encode()
        # Another subclass is not delivered to this stream.
        await e.eval(f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'other::sub', []}}).")
        await e.eval(
            f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'my::sub',"
            ' [{<<"Seq">>, <<"2">>}]}).'
        )
        event = await e.term(
            "Owner ! {get, self()},"
            "receive {got, {ok, D2}} -> binary_to_term(D2) after 5000 -> timeout end."
        )
        assert dict(event[2][0])[b"Seq"] == b"2"
        # The owner dies: its stream (listener and socket) goes away.
        assert len(server.streams) == 1
        await e.eval("exit(Owner, kill).")
        await wait_until(lambda: len(server.streams) == 0)


def _e1() -> Atom:
    return Atom(E1)


async def test_node_disconnect_cleans_up(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(
            f"{{ok, _}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE']}}),"
            f"ok = gen_server:call({MK}, {{bind, directory}}),"
            f'{{ok, <<"+OK true">>}} = gen_server:call({MK},'
            f' {{api, erlang, <<"node {E1} option enable-legacy true">>}}).'
        )
        assert len(server.streams) == 1
        assert server.fetch.handlers("directory")
        assert server.options.get(_e1()).legacy
        assert await e.eval(f"erlang:disconnect_node('{FS}').") == "true"
        await wait_until(
            lambda: len(server.streams) == 0 and not server.fetch.handlers("directory")
        )
        # Reconnecting starts from the configured options again.
        assert await e.eval(f"net_adm:ping('{FS}').") == "pong"
        await wait_until(lambda: _e1() in server.options.nodes())
        assert not server.options.get(_e1()).legacy


async def test_exit_request_drops_the_connection(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(f"pong = net_adm:ping('{FS}'), true = erlang:monitor_node('{FS}', true).")
        await e.eval(f"gen_server:cast({MK}, exit).")
        assert (
            await e.eval(f"receive {{nodedown, '{FS}'}} -> down after 5000 -> timeout end.")
            == "down"
        )
        await wait_until(lambda: _e1() not in server.options.nodes())


async def test_link_request_links_the_caller(epmd: int) -> None:
    async with running_server(epmd), erl_node(E1, epmd_port=epmd) as e:
        assert (
            await e.eval(
                f"ok = gen_server:call({MK}, link), {{ok, MP}} = gen_server:call({MK}, getpid),"
                "{links, Links} = process_info(self(), links), lists:member(MP, Links)."
            )
            == "true"
        )


async def test_per_sender_order_and_no_blocking_of_others(epmd: int) -> None:
    switch = SimSwitch()
    log: list[str] = []
    held, release = trio.Event(), trio.Event()

    async def hold(args: str) -> ApiOutput:
        # Slow for exactly as long as the test needs: until it has seen another
        # process answered meanwhile.
        held.set()
        await release.wait()
        log.append("held")
        return ApiOutput("+OK released")

    switch.register_api("kt_hold", hold)

    def record(event: Event) -> None:
        if event.subclass == "kt::order":
            log.append(f"event {event.get('Seq')}")

    switch.add_listener(record)
    async with running_server(epmd, switch), erl_node(E1, epmd_port=epmd) as e:
        # One sender: a slow cast, then 20 quick casts; all must run in that order.
        await e.eval(
            f"gen_server:cast({MK}, {{api, kt_hold, <<>>}}),"
            f"[gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'kt::order',"
            ' [{<<"Seq">>, integer_to_binary(N)}]}) || N <- lists:seq(1, 20)], ok.'
        )
        with trio.fail_after(5):
            await held.wait()
        # Meanwhile another process is answered, while the slow cast still runs.
        with trio.fail_after(5):
            answer = await e.eval(
                f"spawn_monitor(fun() -> exit({{answer, gen_server:call({MK}, version)}}) end),"
                "receive {'DOWN', _, _, _, {answer, KtAnswer}} -> KtAnswer end."
            )
        assert answer.startswith("{ok,"), answer
        assert log == []  # nothing of the first sender's ran ahead of its slow cast
        release.set()
        await wait_until(lambda: len(log) == 21)
        assert log == ["held"] + [f"event {n}" for n in range(1, 21)]


async def test_ended_mod_kazoo_process_is_replaced_with_its_state(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node(E1, epmd_port=epmd) as e:
        # The owner traps exits: it outlives the end of the process it linked to.
        await e.eval(
            "Self = self(),"
            "Owner = spawn(fun() -> process_flag(trap_exit, true),"
            f"  {{ok, _}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE']}}),"
            f"  ok = gen_server:call({MK}, {{bind, directory}}),"
            f"  ok = gen_server:call({MK}, link),"
            "  Self ! ready, receive stop -> ok end end),"
            f"receive ready -> ok end, {{ok, Old}} = gen_server:call({MK}, getpid), ok."
        )
        old = server.proc
        assert old is not None and len(server.streams) == 1
        # exit/2 (kill included) is ignored; only a failure here could end the
        # process: its successor keeps the streams, bindings and links.
        old.exit(Atom("kt_failure"))
        await wait_until(lambda: server.proc is not None and server.proc is not old)
        assert len(server.streams) == 1 and server.fetch.handlers("directory")
        new = server.proc
        assert new is not None and len(new.links) == 1
        assert await e.eval("is_process_alive(Owner).") == "true"
        assert (
            await e.eval(f"{{ok, New}} = gen_server:call({MK}, getpid, 5000), New =/= Old.")
            == "true"
        )
        assert (
            await e.eval(f"gen_server:call({MK}, {{api, kt_nothing, <<>>}}, 5000).")
            == '{error,<<"kt_nothing: Command not found">>}'
        )
