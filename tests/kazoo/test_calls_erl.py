"""Calls on the simulated switch driven from real Erlang nodes, as ecallmgr drives FreeSWITCH.

An Erlang process binds the dialplan and answers route requests; another owns an
event stream; calls are placed with ``originate`` and controlled with ``sendmsg``,
``command`` and ``commands``.
"""

from __future__ import annotations

import json

import pytest

from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.switch.callhelpers import QUICK, Recorder
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "ctl@127.0.0.1"

# An Erlang dialplan handler: every route request gets `answer` + `park` in the
# requested context (Hunt-Context, sent as Fetch-Key-Value by ecallmgr's profile).
# It tells Parent what it was asked.
ROUTER = (
    "Parent = self(),"
    "Router = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Ctx = proplists:get_value(<<"Fetch-Key-Value">>, Props),'
    "    Parent ! {route_req, Props},"
    '    Xml = iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">'
    '<section name=\\"dialplan\\"><context name=\\"">>, Ctx, <<"\\"><extension name=\\"t\\">'
    '<condition><action application=\\"answer\\"/><action application=\\"park\\"/>'
    '</condition></extension></context></section></document>">>]),'
    f"    gen_server:cast({MK}, {{fetch_reply, dialplan, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)

# An event stream owner that keeps every event it receives; `{get, From}` returns
# them (oldest first) as [{Name, Unique-ID, Application, Application-UUID}].
STREAM = (
    "Watcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE',"
    "    'CHANNEL_ANSWER', 'CHANNEL_DESTROY', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_BRIDGE',"
    "    'CHANNEL_UNBRIDGE']}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> case binary_to_term(Data) of"
    "      {event, json, {P}} ->"
    "        G = fun(K) -> proplists:get_value(K, P) end,"
    '        L([{G(<<"Event-Name">>), G(<<"Call-ID">>), G(<<"Application-Name">>),'
    '            G(<<"Application-UUID">>)} | Acc]);'
    "      Other -> L([{other, Other, x, x} | Acc]) end;"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


async def api(e: ErlNode, command: str, args: str) -> str:
    return await e.eval(f'gen_server:call({MK}, {{api, {command}, <<"{args}">>}}, 10000).')


async def api_text(e: ErlNode, command: str, args: str) -> str:
    reply = await e.term(f'gen_server:call({MK}, {{api, {command}, <<"{args}">>}}, 10000).')
    assert reply[0].name == "ok", reply
    return str(reply[1].decode())


def headers(*pairs: tuple[str, str]) -> str:
    """An Erlang header list of binaries."""
    return "[" + ",".join(f'{{<<"{k}">>, <<"{v}">>}}' for k, v in pairs) + "]"


async def stream_events(e: ErlNode) -> list:
    # Inside a fun: a variable bound at the prompt would make `receive` match old values.
    return await e.term(
        "(fun() -> Watcher ! {get, self()},"
        " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
    )


async def test_loopback_call_routed_by_erlang_and_controlled_in_order(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(ROUTER) == "ok"
        assert await e.eval(STREAM) == "ok"
        a = (await api_text(e, "originate", "loopback/4000/sim &park()"))[4:].strip()
        request = dict(await e.term("receive {route_req, P} -> P after 5000 -> timeout end."))
        assert request[b"Event-Name"] == b"route_req"
        assert request[b"Fetch-Section"] == b"dialplan"
        assert request[b"Hunt-Context"] == b"sim"
        assert request[b"Destination-Number"] == b"4000"
        b = request[b"Call-ID"].decode()
        assert await api_text(e, "uuid_getvar", f"{a} other_loopback_leg_uuid") == b
        await rec.wait_event("CHANNEL_PARK", b)
        # ecallmgr's way: the control queue variable, then named commands.
        sendmsg = headers(
            ("call-command", "execute"),
            ("execute-app-name", "kz_multiset"),
            ("execute-app-arg", "^^|Call-Control-Queue=q1|first=1"),
        )
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {sendmsg}}}).') == "ok"
        play = headers(
            ("call-command", "execute"),
            ("execute-app-name", "playback"),
            ("execute-app-arg", "/tmp/one.wav"),
            ("event-uuid-name", "play"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {play}}}).')
        assert reply[0].name == "ok"
        play_uuid = reply[1].decode()
        batch = "[" + ",".join(
            headers(("call-command", "execute"), ("execute-app-name", app),
                    ("execute-app-arg", arg), ("event-uuid-name", app))
            for app, arg in (("set", "second=2"), ("playback", "/tmp/two.wav"),
                             ("send_dtmf", "1"))
        ) + "]"  # fmt: skip
        reply = await e.term(f'gen_server:call({MK}, {{commands, <<"{b}">>, {batch}}}).')
        last_uuid = reply[1].decode()
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID=last_uuid)
        assert done.get("Application") == "send_dtmf"
        completes = [
            (ev.get("Application"), ev.get("Application-Data"), ev.get("Application-UUID"))
            for ev in rec.of(b)
            if ev.name == "CHANNEL_EXECUTE_COMPLETE"
        ]
        assert completes[1:] == [
            ("kz_multiset", "^^|Call-Control-Queue=q1|first=1", completes[1][2]),
            ("playback", "/tmp/one.wav", play_uuid),
            ("set", "second=2", "null"),
            ("playback", "/tmp/two.wav", "null"),
            ("send_dtmf", "1", last_uuid),
        ]
        # The a-leg of a loopback hears the digit.
        await rec.wait_event("DTMF", a)
        # The stream delivered the call's events, filtered by ecallmgr's profiles.
        events = await stream_events(e)
        named = [(n.decode(), c.decode()) for n, c, *_ in events]
        assert ("CHANNEL_CREATE", a) in named and ("CHANNEL_CREATE", b) in named
        assert ("CHANNEL_ANSWER", b) in named
        executed = [ev for ev in events if ev[0] == b"CHANNEL_EXECUTE_COMPLETE"]
        assert play_uuid.encode() in [ev[3] for ev in executed]
        # Hang up through sendmsg: both legs go, each with its destroy on the stream.
        hangup = headers(("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING"))
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {hangup}}}).') == "ok"
        await rec.wait_event("CHANNEL_DESTROY", a)
        await rec.wait_event("CHANNEL_DESTROY", b)

        async def both_destroys_streamed() -> bool:
            got = {(n.decode(), c.decode()) for n, c, *_ in await stream_events(e)}
            return {("CHANNEL_DESTROY", a), ("CHANNEL_DESTROY", b)} <= got

        await wait_until(both_destroys_streamed, timeout=5, interval=0.05)
        # The channel is gone: sendmsg and command say so.
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {hangup}}}).') == (
            "{error,baduuid}"
        )
        assert len(switch.channels) == 0


DIRECTORY = (
    "Dir = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, directory}}),"
    "  Parent ! dir_bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Xml = <<"<document type=\\"freeswitch/xml\\"><section name=\\"directory\\">'
    '<domain name=\\"example.com\\"><users><user id=\\"1000\\"/></users></domain>'
    '</section></document>">>,'
    f"    gen_server:cast({MK}, {{fetch_reply, directory, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive dir_bound -> ok after 5000 -> timeout end."
)


async def test_originate_each_endpoint_and_uuid_commands(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval("Parent = self(), ok.") == "ok"
        assert await e.eval(DIRECTORY) == "ok"
        # ecallmgr originates with bgapi.
        reply = await e.term(
            f'{{ok, J}} = gen_server:call({MK}, {{bgapi, originate, <<"null/1000 &park()">>}}),'
            "receive {bgok, J, R} -> R after 5000 -> timeout end."
        )
        null_uuid = reply.decode()[4:].strip()
        user = await api_text(e, "originate", "user/1000@example.com &park()")
        user_uuid = user[4:].strip()
        await rec.wait_event("CHANNEL_PARK", user_uuid)
        names = rec.names(user_uuid)
        assert names.index("CHANNEL_PROGRESS") < names.index("CHANNEL_ANSWER")
        assert await api_text(e, "originate", "user/2000@example.com &park()") == (
            "-ERR SUBSCRIBER_ABSENT\n"
        )
        assert await api_text(e, "originate", "error/NO_USER_RESPONSE &park()") == (
            "-ERR NO_USER_RESPONSE\n"
        )
        # Live and unknown UUIDs.
        assert await api(e, "uuid_exists", null_uuid) == '{ok,<<"true">>}'
        assert await api(e, "uuid_setvar", f"{null_uuid} k v") == '{ok,<<"+OK\\n">>}'
        assert await api(e, "uuid_getvar", f"{null_uuid} k") == '{ok,<<"v">>}'
        assert await api(e, "uuid_kill", "no-such-uuid") == '{ok,<<"-ERR No such channel!\\n">>}'
        assert await api(e, "uuid_getvar", "no-such-uuid k") == (
            '{ok,<<"-ERR No such channel!\\n">>}'
        )
        rows = json.loads(await api_text(e, "show", "channels as json"))
        assert {row["uuid"] for row in rows["rows"]} == {null_uuid, user_uuid}
        # An unknown command, through the server.
        assert (
            await api(e, "no_such_command", "")
            == '{error,<<"no_such_command: Command not found">>}'
        )
        # Bridge, unbridge, and hang-up causes.
        assert await api_text(e, "uuid_bridge", f"{null_uuid} {user_uuid}") == f"+OK {user_uuid}\n"
        await rec.wait_event("CHANNEL_BRIDGE", null_uuid)
        assert await api_text(e, "uuid_kill", f"{user_uuid} CALL_REJECTED") == "+OK\n"
        await rec.wait_event("CHANNEL_UNBRIDGE", null_uuid)
        user_destroy = await rec.wait_event("CHANNEL_DESTROY", user_uuid)
        null_destroy = await rec.wait_event("CHANNEL_DESTROY", null_uuid)
        assert user_destroy.get("Hangup-Cause") == "CALL_REJECTED"
        assert null_destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert await api_text(e, "show", "channels as json") == '{"row_count": 0}\n'
        # Modules: load/unload show in node.info; mod_sofia is loaded from the start.
        assert await api_text(e, "load", "mod_sofia") == (
            "+OK Reloading XML\n-ERR [Module already loaded]\n"
        )
        node_info = r'{json_api, <<"{\"command\":\"node.info\",\"data\":\"\"}">>}'
        info = json.loads((await e.term(f"gen_server:call({MK}, {node_info}, 5000)."))[1])
        assert "mod_sofia" in info["response"]["Modules"]["loaded"]
        media = info["response"]["Roles"]["Media"]["profiles"]["sipinterface_1"]["info"]
        assert media["url"].startswith("sip:mod_sofia@")
        assert "sipinterface_1" in await api_text(e, "sofia", "status")
        assert await api_text(e, "unload", "mod_sofia") == "+OK\n"
        assert (await api_text(e, "conference", "xml_list")).startswith("<?xml")
