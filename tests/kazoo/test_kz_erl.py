"""mod_kazoo's own commands and applications driven from a real Erlang node with the
exact texts Kazoo's ecallmgr produces (``applications/ecallmgr/src``).

The Erlang funs below copy ecallmgr's builders: ``ecallmgr_fs_command:set/3`` and
``unset/3`` (through ``ecallmgr_util:process_fs_kv/4`` and ``fs_args_to_binary/1``,
with the default ``multivar_separator`` ``~``), and ``ecallmgr_fs_xml``'s park route
response (``route_resp_park_xml/2``, exported as ``fs_xml`` does: xmerl markup inside
``<document type="freeswitch/xml">``).
"""

from __future__ import annotations

import pytest

from kazoo_trio.kazoo.config import settings_from_xml
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.sofia import Device
from kazoo_trio.term import Atom
from tests.ecallmgr import CCV_STREAM, PARK_ROUTER, erl_headers
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.profile_support import kazoo_conf_document, require_profiles
from tests.kazoo.server_harness import MK, running_server
from tests.switch.callhelpers import QUICK, Recorder, bind_dialplan, dialplan_document, extension
from tests.switch.test_sim_sofia import DOMAIN, auth_user, bind_registrar
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "ctl@127.0.0.1"

# ecallmgr_util:fs_args_to_binary/1 and ecallmgr_fs_command:set/3 / unset/3 for plain
# keys (get_fs_key/1 prefixes "ecallmgr_"); maybe_export_vars/3 and process_fs_kv/4
# each reverse the list, so the items keep their order.
ECALLMGR_SET = (
    "FsArgs = fun([_] = Args) -> list_to_binary(Args);"
    '            (Args) -> list_to_binary(["^^", [list_to_binary([<<"~">>, A]) || A <- Args]])'
    "         end,"
    "ProcessKv = fun([First | Rest], Fmt) ->"
    "              lists:foldl(fun(KV, Acc) -> [Fmt(KV) | Acc] end, [Fmt(First)], Rest) end,"
    'SetFmt = fun({K, V}) -> <<"ecallmgr_", K/binary, "=", V/binary>> end,'
    'UnsetFmt = fun(K) -> <<"ecallmgr_", K/binary, "=">> end,'
    "Set = fun(UUID, Props) ->"
    "        NewProps = lists:foldl(fun(KV, Acc) -> [KV | Acc] end, [], Props),"
    "        AppArgs = ProcessKv(NewProps, SetFmt),"
    f"        gen_server:call({MK}, {{api, kz_uuid_setvar_multi_encoded,"
    '          list_to_binary([UUID, " ", FsArgs(AppArgs)])}, 10000) end,'
    "Unset = fun(UUID, Keys) ->"
    "        AppArgs = ProcessKv(Keys, UnsetFmt),"
    f"        gen_server:call({MK}, {{api, kz_uuid_setvar_multi_encoded,"
    '          list_to_binary([UUID, " ", FsArgs(AppArgs)])}, 10000) end,'
    "ok."
)


async def api_text(e: ErlNode, command: str, args: str) -> str:
    reply = await e.term(f'gen_server:call({MK}, {{api, {command}, <<"{args}">>}}, 10000).')
    assert reply[0].name == "ok", reply
    return str(reply[1].decode())


async def parked_channel(switch: SimSwitch) -> str:
    bind_dialplan(switch, dialplan_document("default", extension([("answer", ""), ("park", "")])))
    text = (await switch.api("originate", "loopback/100 &park()")).text
    assert text.startswith("+OK "), text
    return text[4:].strip()


async def test_set_and_unset_through_kz_uuid_setvar_multi_encoded(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        uuid = await parked_channel(switch)
        assert await e.eval(ECALLMGR_SET) == "ok"
        reply = await e.eval(
            f'Set(<<"{uuid}">>, [{{<<"Account-ID">>, <<"acc1">>}},'
            ' {<<"Owner-ID">>, <<"own%201">>}]).'
        )
        assert reply == '{ok,<<"+OK\\n">>}'
        data = await rec.wait_event("CHANNEL_DATA", uuid)
        assert data.get("variable_ecallmgr_Account-ID") == "acc1"
        assert data.get("variable_ecallmgr_Owner-ID") == "own 1"
        # One value: ecallmgr sends it without the ^^~ prefix.
        assert await e.eval(f'Set(<<"{uuid}">>, [{{<<"Is-Set">>, <<"yes">>}}]).') == (
            '{ok,<<"+OK\\n">>}'
        )
        assert await api_text(e, "uuid_getvar", f"{uuid} ecallmgr_Is-Set") == "yes"
        reply = await e.eval(f'Unset(<<"{uuid}">>, [<<"Account-ID">>, <<"Is-Set">>]).')
        assert reply == '{ok,<<"+OK\\n">>}'
        assert await api_text(e, "uuid_getvar", f"{uuid} ecallmgr_Account-ID") == "_undef_"
        assert await api_text(e, "uuid_getvar", f"{uuid} ecallmgr_Is-Set") == "_undef_"
        assert await api_text(e, "uuid_getvar", f"{uuid} ecallmgr_Owner-ID") == "own 1"
        # A channel that has gone: the C texts.
        reply = await e.eval('Set(<<"no-such-uuid">>, [{<<"A">>, <<"1">>}]).')
        assert reply == (
            '{ok,<<"-ERR No such channel!\\n-USAGE: <uuid> <var>=<value>;<var>=<value>...\\n">>}'
        )


async def test_park_route_response_sets_call_control_and_ccvs(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(PARK_ROUTER) == "ok"
        assert await e.eval(CCV_STREAM) == "ok"
        # ecallmgr originates with bgapi; the call waits parked, unanswered.
        bgapi = f'gen_server:call({MK}, {{bgapi, originate, <<"loopback/4000/sim &park()">>}})'
        assert (await e.term(f"{bgapi}."))[0].name == "ok"
        routed = await e.term("receive {routed, Q, C} -> {Q, C} after 5000 -> timeout end.")
        queue, b = routed[0], routed[1].decode()
        park = await rec.wait_event("CHANNEL_PARK", b)
        # kz_multiset_encoded set the control queue and the CCVs; none is "invalid".
        assert park.get("variable_Call-Control-Queue") == queue.decode()
        assert park.get("variable_ecallmgr_Account-ID") == "acc1"
        assert (park.get("variable_Call-Control-PID") or "").startswith("<")
        assert park.get("variable_ecallmgr_Ecallmgr-Node") == E1
        responses = [
            ev.get("Application-Response")
            for ev in rec.of(b)
            if ev.name == "CHANNEL_EXECUTE_COMPLETE"
        ]
        assert not [r for r in responses if r and r.startswith("-ERR")]
        await rec.wait_event("kazoo::route_winner", b)
        # Call control's commands now complete through Kazoo's filter, with the CCVs.
        noop = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "noop"),
            ("execute-app-arg", "msg-1"),
            ("event-uuid-name", "noop"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {noop}}}).')
        assert reply[0].name == "ok"
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application="noop")
        assert await api_text(e, "uuid_kill", b) == "+OK\n"
        await rec.wait_event("CHANNEL_DESTROY", b)

        async def streamed() -> list[tuple[bytes, ...]]:
            return list(
                await e.term(
                    "(fun() -> Watcher ! {get, self()},"
                    " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
                )
            )

        async def destroy_streamed() -> bool:
            return any(ev[:2] == (b"CHANNEL_DESTROY", b.encode()) for ev in await streamed())

        await wait_until(destroy_streamed, timeout=5, interval=0.05)
        events = await streamed()
        of_b = [ev for ev in events if ev[1] == b.encode()]
        assert (b"CHANNEL_EXECUTE_COMPLETE", b.encode(), b"noop", b"msg-1", b"acc1") in of_b
        destroy = [ev for ev in of_b if ev[0] == b"CHANNEL_DESTROY"]
        assert destroy and destroy[0][4] == b"acc1"


# The same owner for a stream under Kazoo's own profiles: the event list ecallmgr asks
# for; each frame as {Name, Call-ID, Application-Name, Account-ID}.
KAZOO_STREAM = (
    "KWatcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_EXECUTE_COMPLETE',"
    "    'CHANNEL_ANSWER', 'CHANNEL_DESTROY']}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! kstreaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> {event, json, {P}} = binary_to_term(Data),"
    "      G = fun(K) -> proplists:get_value(K, P) end,"
    '      Account = case G(<<"Custom-Channel-Vars">>) of'
    '        {Ccvs} -> proplists:get_value(<<"Account-ID">>, Ccvs, none); _ -> none end,'
    '      L([{G(<<"Event-Name">>), G(<<"Call-ID">>), G(<<"Application-Name">>), Account}'
    "         | Acc]);"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive kstreaming -> ok after 5000 -> timeout end."
)


async def test_park_route_response_under_kazoos_event_profiles(epmd: int) -> None:
    """With the kazoo.conf ecallmgr pushes (Kazoo's shared profiles): after the park
    route response, call control's CHANNEL_EXECUTE_COMPLETE passes the profile's
    filter (``variable_Call-Control-Queue`` exists; park, set and friends excluded)
    and every later event carries the CCVs."""
    pushed = kazoo_conf_document(require_profiles())
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with (
        running_server(epmd, switch=switch, profiles_xml=pushed),
        erl_node(E1, epmd_port=epmd) as e,
    ):
        assert await e.eval(PARK_ROUTER) == "ok"
        assert await e.eval(KAZOO_STREAM) == "ok"
        bgapi = f'gen_server:call({MK}, {{bgapi, originate, <<"loopback/4000/sim &park()">>}})'
        assert (await e.term(f"{bgapi}."))[0].name == "ok"
        routed = await e.term("receive {routed, Q, C} -> {Q, C} after 5000 -> timeout end.")
        b = routed[1].decode()
        await rec.wait_event("CHANNEL_PARK", b)
        for n, app in enumerate(("answer", "noop", "set")):
            command = erl_headers(
                ("call-command", "execute"),
                ("execute-app-name", app),
                ("execute-app-arg", "x=1" if app == "set" else ""),
                ("event-uuid-name", f"{app}-{n}"),
            )
            reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {command}}}).')
            assert reply[0].name == "ok"
            await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application=app)
        assert await api_text(e, "uuid_kill", b) == "+OK\n"
        await rec.wait_event("CHANNEL_DESTROY", b)

        async def streamed() -> list[tuple[object, ...]]:
            return list(
                await e.term(
                    "(fun() -> KWatcher ! {get, self()},"
                    " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
                )
            )

        async def destroy_streamed() -> bool:
            return any(ev[:2] == (b"CHANNEL_DESTROY", b.encode()) for ev in await streamed())

        await wait_until(destroy_streamed, timeout=5, interval=0.05)
        of_b = [ev for ev in await streamed() if ev[1] == b.encode()]
        # Kazoo's profile names the application after the command's event-uuid-name;
        # its filter keeps set (and park, log, export...) out.
        assert [(ev[0], ev[2]) for ev in of_b] == [
            (b"CHANNEL_ANSWER", Atom("undefined")),
            (b"CHANNEL_EXECUTE_COMPLETE", b"answer-0"),
            (b"CHANNEL_EXECUTE_COMPLETE", b"noop-1"),
            (b"CHANNEL_DESTROY", Atom("undefined")),
        ]
        assert [ev for ev in of_b if ev[3] != b"acc1"] == []


async def test_redirect_of_an_answered_call_is_a_deflect(epmd: int) -> None:
    """ecallmgr_channel_redirect:redirect_via_proxy on an answered device call: the
    redirect server set through kz_uuid_setvar_multi_encoded, then ``deflect
    sip:<destination>@<realm>`` by sendmsg; mod_sofia REFERs the device, which takes
    the call elsewhere (BLIND_TRANSFER)."""
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    bind_registrar(switch, auth_user("1000", "pw"), "", [])
    bind_dialplan(switch, dialplan_document("context_2", extension([("answer", ""), ("park", "")])))
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        device = await switch.sofia.register("1000", DOMAIN, password="pw")
        assert isinstance(device, Device)
        channel = await switch.sofia.place_call(device, "2000")
        uuid = channel.uuid
        await rec.wait_event("CHANNEL_PARK", uuid)
        assert await e.eval(ECALLMGR_SET) == "ok"
        reply = await e.eval(
            f'Set(<<"{uuid}">>, [{{<<"Redirect-Server">>, <<"sip:10.1.1.2:5060">>}}]).'
        )
        assert reply == '{ok,<<"+OK\\n">>}'
        deflect = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "deflect"),
            ("execute-app-arg", f"sip:2000@{DOMAIN}"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{uuid}">>, {deflect}}}).')
        assert reply[0].name == "ok"
        destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
        assert destroy.get("Hangup-Cause") == "BLIND_TRANSFER"
        assert destroy.get("variable_sip_refer_reply") == "SIP/2.0 200 OK\r\n"
        assert [r.refer_to for r in switch.sofia.refers] == [f"sip:2000@{DOMAIN}"]


async def test_bridge_as_ecallmgr_sends_it_with_xferext(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(PARK_ROUTER) == "ok"
        bgapi = f'gen_server:call({MK}, {{bgapi, originate, <<"loopback/4000/sim &park()">>}})'
        assert (await e.term(f"{bgapi}."))[0].name == "ok"
        routed = await e.term("receive {routed, Q, C} -> {Q, C} after 5000 -> timeout end.")
        b = routed[1].decode()
        await rec.wait_event("CHANNEL_PARK", b)
        # ecallmgr_fs_bridge's dialplan (default ringback, two CCVs, no hold media, no
        # bypass, Continue-After unset) sent by ecallmgr_util:send_cmd as xferext.
        ring = "%(2000,4000,440,480)"
        apps = [
            f"kz_export ^^~ringback={ring}~transfer_ringback={ring}",
            "kz_multiset ^^~ecallmgr_Owner-ID=own1~ecallmgr_Account-ID=acc1",
            "export sip_redirect_context=context_2",
            "set continue_on_fail=true",
            "set hangup_after_bridge=false",
            "bridge {ecallmgr_Account-ID=acc1}loopback/5000/answered",
            "event Event-Name=CUSTOM,Event-Subclass=kazoo::masquerade,"
            "kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=bridge,"
            "Application-UUID=5bd6b2a1c3e44c1f",
            "park",
        ]
        xferext = erl_headers(("call-command", "xferext"), *[("application", a) for a in apps])
        reply = await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {xferext}}}).')
        assert reply == "ok"
        bridged = await rec.wait_event("CHANNEL_BRIDGE", b)
        peer = bridged.get("Bridge-B-Unique-ID") or ""
        assert await api_text(e, "uuid_getvar", f"{b} ecallmgr_Owner-ID") == "own1"
        assert await api_text(e, "uuid_kill", peer) == "+OK\n"
        await rec.wait_event("kazoo::masquerade", b, Application_UUID="5bd6b2a1c3e44c1f")
        await rec.wait_for(
            lambda ev: (
                ev.name == "CHANNEL_PARK"
                and ev.get("Unique-ID") == b
                and ev.get("variable_sip_redirect_context") == "context_2"
            )
        )
        executed = [n for n in rec.names(b) if n.startswith("CHANNEL_EXECUTE:")]
        assert executed[-8:] == [f"CHANNEL_EXECUTE:{app.split(' ')[0]}" for app in apps]
        responses = [
            ev.get("Application-Response")
            for ev in rec.of(b)
            if ev.name == "CHANNEL_EXECUTE_COMPLETE"
        ]
        assert not [r for r in responses if r and r.startswith("-ERR")]


# A stream owner keeping, for every CHANNEL_CREATE, the Call-ID, the interaction id
# the default profile puts among the Custom-Channel-Vars, and Switch-URI.
CREATE_STREAM = (
    "Parent = self(),"
    "Watcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE']}}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> case binary_to_term(Data) of"
    "      {event, json, {P}} ->"
    '        {Ccv} = proplists:get_value(<<"Custom-Channel-Vars">>, P, {[]}),'
    '        L([{proplists:get_value(<<"Call-ID">>, P),'
    '            proplists:get_value(<<"Call-Interaction-ID">>, Ccv),'
    '            proplists:get_value(<<"Switch-URI">>, P)} | Acc]);'
    "      _ -> L(Acc) end;"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


async def test_tweaks_from_kazoo_conf_show_in_streamed_events(epmd: int) -> None:
    # kazoo.conf.xml: every tweak off but the interaction id.
    settings = settings_from_xml(
        '<configuration name="kazoo.conf"><tweaks default="false">'
        '<tweak name="interaction-id" value="true"/></tweaks></configuration>'
    )
    assert settings.kz_tweaks is not None
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with (
        running_server(epmd, switch=switch, kz_tweaks=settings.kz_tweaks),
        erl_node(E1, epmd_port=epmd) as e,
    ):
        assert await e.eval(CREATE_STREAM) == "ok"
        dial = "{sofia_profile_url=sip:mod_sofia@10.0.0.1:5060}null/1"
        a = (await api_text(e, "originate", f"{dial} &park()"))[4:].strip()
        await rec.wait_event("CHANNEL_PARK", a)

        async def streamed() -> list[tuple[bytes, bytes, object]]:
            got = await e.term(
                "(fun() -> Watcher ! {get, self()},"
                " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
            )
            return [tuple(ev) for ev in got if ev[0] == a.encode()]

        await wait_until(streamed)
        [(_, interaction, switch_uri)] = await streamed()
        local = await api_text(e, "uuid_getvar", f"{a} Call-Interaction-ID")
        assert interaction == local.encode()
        assert interaction.decode().split("-")[0].isdigit()
        # switch-uri is off: no Switch-URI from the profile URL.
        assert switch_uri == Atom("undefined")


# ecallmgr_fs_transfer:attended/3 for Transfer-To 300, realm example.com, caller id
# Alice/1000, no Timeout, CCV Account-ID acc1: process_fs_kv/4 puts the first
# property last and the others reversed; no Attended-Transfer-Keys.
ATTENDED_ARG = (
    "{origination_callee_id_name=300,origination_callee_id_number=300,"
    "origination_caller_id_name=Alice,origination_caller_id_number=1000,"
    "ignore_early_media=ring_ready,sip_loopback_req_uri=300@example.com,"
    "loopback_bowout=true,loopback_bowout_on_execute=false,"
    "sip_invite_domain=example.com,ecallmgr_Account-ID=acc1}loopback/300/context_2"
)


async def test_attended_transfer_as_ecallmgr_sends_it(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    target_route = extension([("answer", ""), ("park", "")], "^300$")
    bind_dialplan(switch, dialplan_document("context_2", target_route))
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        caller = (await api_text(e, "originate", "null/1 &bridge(null/2)"))[4:].strip()
        device = (await rec.wait_event("CHANNEL_BRIDGE", caller)).get("Bridge-B-Unique-ID")
        assert device
        # ecallmgr_util:send_cmd/5 with the transfer's event arguments.
        sendmsg = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "kz_att_xfer"),
            ("execute-app-arg", ATTENDED_ARG),
            ("event-uuid-name", "transfer"),
            ("hold-bleg", "true"),
        )
        reply = await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{device}">>, {sendmsg}}}).')
        assert reply == "ok"
        inner = await rec.wait_for(
            lambda ev: ev.name == "CHANNEL_BRIDGE" and ev.get("Bridge-A-Unique-ID") == device
        )
        target = inner.get("Bridge-B-Unique-ID") or ""
        assert inner.get("Other-Leg-Caller-ID-Name") == "Alice"
        # The new leg inherited the transferor's interaction id (outgoing hook).
        device_id = await api_text(e, "uuid_getvar", f"{device} Call-Interaction-ID")
        assert await api_text(e, "uuid_getvar", f"{target} Call-Interaction-ID") == device_id
        # The transferor hangs up: the caller is bridged to the new leg.
        assert await api_text(e, "uuid_kill", device) == "+OK\n"
        transferee = await rec.wait_event("sofia::transferee", caller)
        assert transferee.get("att_xfer_replaced_call_id") == target
        await rec.wait_for(
            lambda ev: (
                ev.name == "CHANNEL_BRIDGE"
                and {ev.get("Bridge-A-Unique-ID"), ev.get("Bridge-B-Unique-ID")} == {caller, target}
            )
        )
        assert await api_text(e, "uuid_getvar", f"{caller} bridge_uuid") == target
        assert await api_text(e, "uuid_getvar", f"{target} ecallmgr_Account-ID") == "acc1"
